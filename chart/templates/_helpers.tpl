{{/*
Chart name, truncated to 63 characters (the DNS label limit).
*/}}
{{- define "gpu-telemetry.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: release-chart, unless the release name already
contains the chart name. Truncated to 63 characters.
*/}}
{{- define "gpu-telemetry.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "gpu-telemetry.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "gpu-telemetry.labels" -}}
helm.sh/chart: {{ include "gpu-telemetry.chart" . }}
{{ include "gpu-telemetry.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels: stable across upgrades, so never add the version here.
*/}}
{{- define "gpu-telemetry.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gpu-telemetry.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Name of the ServiceAccount the pod runs as.
*/}}
{{- define "gpu-telemetry.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gpu-telemetry.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
CSV_FILE: config.csvFile when set, else the file of the mounted volume; empty
with csv.source=sample, so the image's own default (the baked sample) holds.
*/}}
{{- define "gpu-telemetry.csvFile" -}}
{{- if .Values.config.csvFile }}
{{- .Values.config.csvFile }}
{{- else if ne .Values.csv.source "sample" }}
{{- printf "%s/%s" .Values.csv.mountPath .Values.csv.fileName }}
{{- end }}
{{- end }}

{{/*
Name of the Secret holding ADMIN_TOKEN: the existing one, or the chart's own.
*/}}
{{- define "gpu-telemetry.adminTokenSecretName" -}}
{{- default (printf "%s-admin-token" (include "gpu-telemetry.fullname" .)) .Values.adminToken.existingSecret }}
{{- end }}

{{/*
Pod annotations: the scrape annotations for /metrics, a checksum of the
chart's own token Secret (so that changing the token restarts the pod, since
environment variables are read once), then podAnnotations.
*/}}
{{- define "gpu-telemetry.podAnnotations" -}}
{{- if .Values.metrics.annotations.enabled }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.config.apiPort | int64 | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- if and .Values.adminToken.value (not .Values.adminToken.existingSecret) }}
checksum/admin-token: {{ .Values.adminToken.value | sha256sum }}
{{- end }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Service annotations: the scrape annotations for /metrics/gpus, then
service.annotations. The port is the pod's: a kubernetes-service-endpoints
job scrapes each endpoint (pod) address, not the Service.
*/}}
{{- define "gpu-telemetry.serviceAnnotations" -}}
{{- if .Values.metrics.annotations.enabled }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.config.apiPort | int64 | quote }}
prometheus.io/path: /metrics/gpus
{{- end }}
{{- with .Values.service.annotations }}
{{ toYaml . }}
{{- end }}
{{- end }}
