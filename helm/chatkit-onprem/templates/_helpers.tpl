{{/* Chart name, truncated to the DNS label limit. */}}
{{- define "chatkit-onprem.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: release-chart unless the release name already holds the chart name. */}}
{{- define "chatkit-onprem.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "chatkit-onprem.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chatkit-onprem.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "chatkit-onprem.labels" -}}
{{ include "chatkit-onprem.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* registry/repository:tag or registry/repository@digest; global.imageRegistry wins. */}}
{{- define "chatkit-onprem.image" -}}
{{- $registry := .Values.image.registry -}}
{{- if .Values.global.imageRegistry }}{{ $registry = .Values.global.imageRegistry }}{{ end -}}
{{- $repo := .Values.image.repository -}}
{{- if $registry }}{{ $repo = printf "%s/%s" $registry .Values.image.repository }}{{ end -}}
{{- if .Values.image.digest -}}
{{- if not (hasPrefix "sha256:" .Values.image.digest) }}{{ fail "image.digest must look like sha256:<hex>" }}{{ end -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "chatkit-onprem.imagePullSecrets" -}}
{{- $secrets := concat .Values.global.imagePullSecrets .Values.image.pullSecrets | uniq -}}
{{- if $secrets }}
imagePullSecrets:
{{- range $secrets }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "chatkit-onprem.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "chatkit-onprem.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "chatkit-onprem.secretName" -}}
{{- default (include "chatkit-onprem.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "chatkit-onprem.claimName" -}}
{{- default (printf "%s-data" (include "chatkit-onprem.fullname" .)) .Values.persistence.existingClaim -}}
{{- end -}}

{{/* The public URL: config.server.public_url, else derived from the Ingress. */}}
{{- define "chatkit-onprem.publicUrl" -}}
{{- $server := default dict .Values.config.server -}}
{{- if $server.public_url -}}
{{- $server.public_url -}}
{{- else if .Values.ingress.enabled -}}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls) .Values.ingress.hostname -}}
{{- end -}}
{{- end -}}

{{/*
The application config file: values.config with the keys the chart owns forced
(data_dir on the volume, listen address and port). Fails early, with the setting
to change, where the app itself would refuse to start in production.
*/}}
{{- define "chatkit-onprem.config" -}}
{{- $config := deepCopy (default dict .Values.config) -}}
{{- $server := deepCopy (default dict $config.server) -}}
{{- $_ := set $server "host" "0.0.0.0" -}}
{{- $_ := set $server "port" (int .Values.containerPorts.http) -}}
{{- $url := include "chatkit-onprem.publicUrl" . -}}
{{- if $url }}{{ $_ := set $server "public_url" $url }}{{ end -}}
{{- $_ := set $config "server" $server -}}
{{- $_ := set $config "data_dir" "/data" -}}
{{- if eq (toString (default "development" $config.mode)) "production" -}}
{{- $_ := required "config.server.public_url is required in production (the absolute URL users reach the service at), or enable ingress so the chart derives it from ingress.hostname" $url -}}
{{- $auth := default dict $config.auth -}}
{{- if or (not $auth.methods) (has "development" $auth.methods) -}}
{{- fail "config.auth.methods: 'development' (X-Dev-User headers) is refused in production; use api_keys, oidc or trusted_headers (see the chart README), or set config.mode: development for a trial" -}}
{{- end -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/* CHATKIT_ONPREM_<PATH>_FILE for a dotted config key: auth.admin_token -> CHATKIT_ONPREM_AUTH__ADMIN_TOKEN_FILE */}}
{{- define "chatkit-onprem.fileEnvName" -}}
{{- printf "CHATKIT_ONPREM_%s_FILE" (. | replace "." "__" | upper) -}}
{{- end -}}
