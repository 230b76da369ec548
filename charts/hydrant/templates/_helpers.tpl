{{/*
The chart name, or nameOverride.
*/}}
{{- define "hydrant.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
A fully qualified app name: "<release>-<name>", or the release name if it already contains the
chart name, or fullnameOverride. Truncated to 63 characters (DNS label limit).
*/}}
{{- define "hydrant.fullname" -}}
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
The name of the operator's objects (Deployment, ClusterRole, bindings, PDB): "<fullname>-operator".
*/}}
{{- define "hydrant.operatorName" -}}
{{- printf "%s-operator" (include "hydrant.fullname" . | trunc 54 | trimSuffix "-") }}
{{- end }}

{{/*
The operator's metrics Service: "<fullname>-operator-metrics" (at most 63 characters).
*/}}
{{- define "hydrant.metricsServiceName" -}}
{{- printf "%s-metrics" (include "hydrant.operatorName" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{/*
The leader-election Role and RoleBinding: "<fullname>-operator-leader-election".
*/}}
{{- define "hydrant.leaderElectionName" -}}
{{- printf "%s-leader-election" (include "hydrant.operatorName" . | trunc 47 | trimSuffix "-") }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "hydrant.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: stable for the life of the release (Deployment selectors are immutable). The
component label keeps them from ever matching the data-plane pods the operator creates.
*/}}
{{- define "hydrant.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hydrant.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/*
Common labels.
*/}}
{{- define "hydrant.labels" -}}
helm.sh/chart: {{ include "hydrant.chart" . }}
{{ include "hydrant.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hydrant
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The operator's ServiceAccount name.
*/}}
{{- define "hydrant.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hydrant.operatorName" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
An image reference from {repository, tag, digest} and a default tag: "repository@digest" if a
digest is set, else "repository:tag". Call with (dict "image" .Values.image "defaultTag" .Chart.AppVersion).
*/}}
{{- define "hydrant.imageRef" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (.image.tag | default .defaultTag | toString) }}
{{- end }}
{{- end }}

{{/*
The operator image.
*/}}
{{- define "hydrant.image" -}}
{{- include "hydrant.imageRef" (dict "image" .Values.image "defaultTag" .Chart.AppVersion) }}
{{- end }}

{{/*
The data-plane image the operator puts into every DeliveryStream's Deployment.
*/}}
{{- define "hydrant.dataplaneImage" -}}
{{- include "hydrant.imageRef" (dict "image" .Values.dataplane.image "defaultTag" .Chart.AppVersion) }}
{{- end }}

{{/*
The watched namespaces, de-duplicated, empty entries removed (a list).
*/}}
{{- define "hydrant.watchNamespaces" -}}
{{- $out := list }}
{{- range .Values.watchNamespaces }}
{{- $ns := . | toString | trim }}
{{- if $ns }}
{{- $out = append $out $ns }}
{{- end }}
{{- end }}
{{- toJson (uniq $out) }}
{{- end }}

{{/*
The gateway's objects (Deployment, Service, ServiceAccount, Roles): "<fullname>-gateway".
*/}}
{{- define "hydrant.gatewayName" -}}
{{- printf "%s-gateway" (include "hydrant.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{/*
The gateway's selector labels: the component label keeps the operator's selector off its pods.
*/}}
{{- define "hydrant.gatewaySelectorLabels" -}}
app.kubernetes.io/name: {{ include "hydrant.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end }}

{{/*
The gateway's labels.
*/}}
{{- define "hydrant.gatewayLabels" -}}
helm.sh/chart: {{ include "hydrant.chart" . }}
{{ include "hydrant.gatewaySelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hydrant
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The namespaces the gateway works in, de-duplicated, empty entries removed (a list).
*/}}
{{- define "hydrant.gatewayNamespaces" -}}
{{- $out := list }}
{{- range .Values.gateway.namespaces }}
{{- $ns := . | toString | trim }}
{{- if $ns }}
{{- $out = append $out $ns }}
{{- end }}
{{- end }}
{{- toJson (uniq $out) }}
{{- end }}
