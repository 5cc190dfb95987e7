# Thin wrappers around the npm scripts in package.json, which stay the source
# of truth; `make` alone prints the targets.
NPM ?= npm

.DEFAULT_GOAL := help
.PHONY: help build test cover openapi perf bench start clean docker-build

help:
	@echo "targets: build test cover openapi perf bench start clean docker-build"

build:
	$(NPM) run build

test:
	$(NPM) test

cover:
	$(NPM) run cover

openapi:
	$(NPM) run openapi

perf:
	$(NPM) run perf

bench:
	$(NPM) run bench

start:
	$(NPM) start

clean:
	$(NPM) run clean

docker-build:
	$(NPM) run docker:build
