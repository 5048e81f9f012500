{{/*
Names and labels shared by every template. With the release named secret-rotator the objects get the names
config/default gives them (secret-rotator-controller-manager, secret-rotator-manager-role, ...).
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "secret-rotator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every object's name: fullnameOverride, else the release name, followed by the chart name unless
it already contains it. At most 36 characters, so the metrics Service's name (a DNS label, the longest suffix)
stays within 63. */}}
{{- define "secret-rotator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 36 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 36 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 36 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "secret-rotator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "secret-rotator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the operator's pods (the Deployment's selector, the metrics Service's). */}}
{{- define "secret-rotator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "secret-rotator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
control-plane: controller-manager
{{- end }}

{{/* The ServiceAccount the operator runs as. */}}
{{- define "secret-rotator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-controller-manager" (include "secret-rotator.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The rules of the generated ClusterRole manager-role: files/role.yaml, a copy of config/rbac/role.yaml that
`make manifests` writes. The namespace-scoped mode grants the same rules with a Role in each watched namespace. */}}
{{- define "secret-rotator.managerRules" -}}
{{- (.Files.Get "files/role.yaml" | fromYaml).rules | toYaml }}
{{- end }}
