/**
 * The Go template renderer the chart tests render with: it must do what
 * Helm does for the parts of the language the chart uses, and refuse the
 * rest, or the chart checks prove nothing.
 */
import t from 'tap';
import { GoInt, TemplateError, TemplateSet, formatFloat64 } from './fixtures/go-template.js';

t.test('the renderer follows Go template rules the chart relies on', async (t) => {
  const set = new TemplateSet();
  const cases: [string, string, unknown, string][] = [
    ['trim markers', 'a  {{- "b" -}}  \n c', {}, 'abc'],
    ['a dash without a space is a number', 'a {{-3}}', {}, 'a -3'],
    ['comments vanish', 'a{{/* x }} y */}}b{{- /* z */ -}} c', {}, 'abc'],
    ['with sets dot, else keeps it', '{{ with .a }}{{ . }}{{ else }}none{{ end }}|{{ with .b }}{{ . }}{{ else }}none{{ end }}', { a: 'x', b: '' }, 'x|none'],
    ['else if', '{{ if .a }}A{{ else if .b }}B{{ else }}C{{ end }}', { a: false, b: 0.5 }, 'B'],
    ['empty maps and zero are false', '{{ if .m }}y{{ else }}n{{ end }}{{ if .z }}y{{ else }}n{{ end }}', { m: {}, z: 0 }, 'nn'],
    ['and/or return an operand', '{{ or .a .b }}{{ and .c .d }}', { a: '', b: 'b', c: 'c', d: 'd' }, 'bd'],
    ['default on empty', '{{ .a | default "d" }}{{ .b | default "d" }}', { a: '', b: 'b' }, 'db'],
    ['variables and $', '{{ $x := .a }}{{ with .m }}{{ $x }}{{ $.a }}{{ end }}', { a: 'A', m: { k: 1 } }, 'AA'],
    ['nindent (the \\n escape read as Go reads it)', 'k:{{ "a: 1\\nb: 2" | nindent 2 }}', {}, 'k:\n  a: 1\n  b: 2'],
    ['toYaml sorts keys, does not indent lists, drops the final newline', '{{ toYaml .m }}', { m: { b: 1, a: [true] } }, 'a:\n- true\nb: 1'],
    ['quote', '{{ quote .s }} {{ .b | quote }}', { s: 'x"y', b: true }, '"x\\"y" "true"'],
    ['printf, trunc and trimSuffix', '{{ printf "%s-%s" "ab" "cd" | trunc 3 | trimSuffix "-" }}', {}, 'ab'],
    ['int64 prints an integer, a float64 prints as Go prints it', '{{ .n | int64 }} {{ .n }}', { n: 5e6 }, '5000000 5e+06'],
  ];
  cases.forEach(([what, src, data, want], i) => {
    set.add(`case${i}`, src);
    t.equal(set.render(`case${i}`, data), want, what);
  });
  set.add('helpers', '{{ define "h" }}[{{ .v }}]{{ end }}{{ include "h" . | quote }}');
  t.equal(set.render('helpers', { v: new GoInt(3) }), '"[3]"', 'define and include');
});

t.test('float64 values print as Go prints them: the exponent form from 1e6', async (t) => {
  t.equal(formatFloat64(100_000_000), '1e+08');
  t.equal(formatFloat64(1_048_576), '1.048576e+06');
  t.equal(formatFloat64(999_999), '999999');
  t.equal(formatFloat64(262_144), '262144');
  t.equal(formatFloat64(0.5), '0.5');
  t.equal(formatFloat64(0.00001), '1e-05');
  const set = new TemplateSet();
  set.add('x', 'n: {{ .n | quote }}, i: {{ .n | int64 | quote }}');
  t.equal(set.render('x', { n: 100_000_000 }), 'n: "1e+08", i: "100000000"', 'so a template needs int64 for large numbers');
});

t.test('the renderer refuses what it does not model, and what Go or Helm would refuse', async (t) => {
  const set = new TemplateSet();
  t.throws(() => set.add('a', '{{ .Values.x | frobnicate }}'), TemplateError, 'an unknown function');
  t.throws(() => set.add('b', '{{ range .Values.list }}{{ . }}{{ end }}'), /not supported/, 'range is refused, not mis-rendered');
  t.throws(() => set.add('c', '{{ if .x }}'), /missing \{\{end\}\}/, 'an unclosed block');
  set.add('d', '{{ .Values.nope }}');
  t.throws(() => set.render('d', { Values: {} }), /\.Values\.nope is not set/, 'a path missing from values');
  set.add('e', '{{ eq .n 1 }}');
  t.throws(() => set.render('e', { n: 1 }), /incompatible types/, 'eq of a float64 and an int, as in Go');
  set.add('f', '{{ trunc .n "abc" }}');
  t.throws(() => set.render('f', { n: 2 }), /wants an int/, 'a float64 where Go wants an int');
  set.add('g', '{{ .m }}');
  t.throws(() => set.render('g', { m: { a: 1 } }), /printing a map/, 'printing a map');
  set.add('h', '{{ include "nope" . }}');
  t.throws(() => set.render('h', {}), /no template "nope"/, 'including an undefined template');
});
