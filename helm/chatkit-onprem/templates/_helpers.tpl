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

{{/* Render a value that may hold templates (string or structure), bitnami's common.tplvalues.render. */}}
{{- define "chatkit-onprem.tplvalues" -}}
{{- $value := typeIs "string" .value | ternary .value (.value | toYaml) -}}
{{- if contains "{{" $value -}}
{{- tpl $value .context -}}
{{- else -}}
{{- $value -}}
{{- end -}}
{{- end -}}

{{/* duckdb or postgres: config.store.backend. */}}
{{- define "chatkit-onprem.backend" -}}
{{- $store := default dict (default dict .Values.config).store -}}
{{- default "duckdb" $store.backend -}}
{{- end -}}

{{/* keyring or vault: config.crypto.kek.provider. */}}
{{- define "chatkit-onprem.kekProvider" -}}
{{- $crypto := default dict (default dict .Values.config).crypto -}}
{{- default "keyring" (default dict $crypto.kek).provider -}}
{{- end -}}

{{/* The object kind of the server: a StatefulSet only for DuckDB with persistence.singleWriter StatefulSet. */}}
{{- define "chatkit-onprem.workloadKind" -}}
{{- if and (eq (include "chatkit-onprem.backend" .) "duckdb") .Values.persistence.enabled (eq .Values.persistence.singleWriter "StatefulSet") -}}
StatefulSet
{{- else -}}
Deployment
{{- end -}}
{{- end -}}

{{/* Whether the chart keeps /data on a PVC: DuckDB with persistence (PostgreSQL: nothing to keep). */}}
{{- define "chatkit-onprem.usesClaim" -}}
{{- if and (eq (include "chatkit-onprem.backend" .) "duckdb") .Values.persistence.enabled -}}true{{- end -}}
{{- end -}}

{{- define "chatkit-onprem.accessModes" -}}
{{- if .Values.persistence.accessModes -}}
{{- toYaml .Values.persistence.accessModes -}}
{{- else if eq .Values.persistence.singleWriter "StatefulSet" -}}
- ReadWriteOnce
{{- else -}}
- ReadWriteOncePod
{{- end -}}
{{- end -}}

{{/* The public URL: config.server.public_url, else derived from the Ingress or the HTTPRoute. */}}
{{- define "chatkit-onprem.publicUrl" -}}
{{- $server := default dict .Values.config.server -}}
{{- if $server.public_url -}}
{{- $server.public_url -}}
{{- else if .Values.ingress.enabled -}}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls) .Values.ingress.hostname -}}
{{- else if and .Values.httpRoute.enabled .Values.httpRoute.hostnames -}}
{{- printf "%s://%s" .Values.httpRoute.scheme (first .Values.httpRoute.hostnames) -}}
{{- end -}}
{{- end -}}

{{- define "chatkit-onprem.databaseCaPath" -}}
{{- printf "/etc/chatkit-onprem/database-ca/%s" .Values.database.caKey -}}
{{- end -}}

{{/*
The application config file: values.config with the keys the chart owns forced
(data_dir on the volume, listen address and port, the database from database.*).
*/}}
{{- define "chatkit-onprem.config" -}}
{{- $config := deepCopy (default dict .Values.config) -}}
{{- $server := deepCopy (default dict $config.server) -}}
{{- $_ := set $server "host" "0.0.0.0" -}}
{{- $_ := set $server "port" (int .Values.containerPorts.http) -}}
{{- $url := include "chatkit-onprem.publicUrl" . -}}
{{- if $url }}{{ $_ := set $server "public_url" $url }}{{ end -}}
{{- if and .Values.jobs.dedicated.enabled (eq (include "chatkit-onprem.backend" .) "postgres") }}{{ $_ := set $server "run_jobs" false }}{{ end -}}
{{- $_ := set $config "server" $server -}}
{{- $_ := set $config "data_dir" "/data" -}}
{{- if eq (include "chatkit-onprem.backend" .) "postgres" -}}
{{- $store := deepCopy (default dict $config.store) -}}
{{- $pg := deepCopy (default dict $store.postgres) -}}
{{- $db := .Values.database -}}
{{- if and (not $db.existingSecret) $db.host (not $pg.dsn) -}}
{{- /* No password here: libpq takes it from PGPASSWORD (a Secret), so this file holds none. */}}
{{- $_ := set $pg "dsn" (printf "postgresql://%s@%s:%v/%s?sslmode=%s" ($db.user | urlquery) $db.host $db.port ($db.name | urlquery) $db.sslmode) -}}
{{- end -}}
{{- if $db.caSecret }}{{ $_ := set $pg "ca_bundle" (include "chatkit-onprem.databaseCaPath" .) }}{{ end -}}
{{- $_ := set $store "postgres" $pg -}}
{{- $_ := set $config "store" $store -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/* CHATKIT_ONPREM_<PATH>_FILE for a dotted config key: auth.admin_token -> CHATKIT_ONPREM_AUTH__ADMIN_TOKEN_FILE */}}
{{- define "chatkit-onprem.fileEnvName" -}}
{{- printf "CHATKIT_ONPREM_%s_FILE" (. | replace "." "__" | upper) -}}
{{- end -}}

{{/* CHATKIT_ONPREM_<PATH> for a dotted config key: crypto.kek.keyring_path -> CHATKIT_ONPREM_CRYPTO__KEK__KEYRING_PATH */}}
{{- define "chatkit-onprem.envName" -}}
{{- printf "CHATKIT_ONPREM_%s" (. | replace "." "__" | upper) -}}
{{- end -}}

{{/*
Secret key -> config key, as JSON: the chart's own keys (wired whether the Secret is
chart-made or yours) plus secrets.files. Read once at start-up (CHATKIT_ONPREM_<KEY>_FILE).
*/}}
{{- define "chatkit-onprem.secretFiles" -}}
{{- $files := dict "admin-token" "auth.admin_token" "metrics-token" "auth.metrics_token" "encryption-key" "blobs.encryption.key" "export-signing-key" "exports.signing_key" -}}
{{- if eq (include "chatkit-onprem.kekProvider" .) "vault" -}}
{{- $_ := set $files "vault-token" "crypto.kek.vault.token" -}}
{{- end -}}
{{- range $key, $configKey := .Values.secrets.files }}{{ $_ := set $files $key (toString (default "" $configKey)) }}{{ end -}}
{{- toJson $files -}}
{{- end -}}

{{/*
Secret key -> path setting, as JSON: keys the server re-reads from the mounted file itself.
The keyring is re-read on every key operation, so a version added to the Secret reaches
'admin keys rotate-kek' once kubelet has updated the mount (the volume has no subPath).
*/}}
{{- define "chatkit-onprem.secretPaths" -}}
{{- $paths := dict -}}
{{- if ne (include "chatkit-onprem.kekProvider" .) "vault" -}}
{{- $_ := set $paths "kek-keyring" "crypto.kek.keyring_path" -}}
{{- end -}}
{{- toJson $paths -}}
{{- end -}}

{{/* The Secret and key libpq's PGPASSWORD comes from, as "name/key" (empty: none). */}}
{{- define "chatkit-onprem.databasePasswordRef" -}}
{{- $db := .Values.database -}}
{{- if and (eq (include "chatkit-onprem.backend" .) "postgres") (not $db.existingSecret) -}}
{{- if $db.existingPasswordSecret -}}
{{- printf "%s/%s" $db.existingPasswordSecret $db.existingPasswordSecretKey -}}
{{- else if $db.password -}}
{{- printf "%s/database-password" (include "chatkit-onprem.secretName" .) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Every problem in the values, reported together (bitnami's validateValues pattern):
the first failing check no longer hides the others.
*/}}
{{- define "chatkit-onprem.validateValues" -}}
{{- $messages := list -}}
{{- $config := default dict .Values.config -}}
{{- $backend := include "chatkit-onprem.backend" . -}}
{{- if eq (toString (default "development" $config.mode)) "production" -}}
{{- if not (include "chatkit-onprem.publicUrl" .) -}}
{{- $messages = append $messages "config.server.public_url is required in production (the absolute URL users reach the service at), or enable ingress or httpRoute so the chart derives it" -}}
{{- end -}}
{{- $auth := default dict $config.auth -}}
{{- if or (not $auth.methods) (has "development" $auth.methods) -}}
{{- $messages = append $messages "config.auth.methods: 'development' (X-Dev-User headers) is refused in production; use api_keys, oidc or trusted_headers (see the chart README), or set config.mode: development for a trial" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.image.digest (not (regexMatch "^sha256:[0-9a-f]{64}$" .Values.image.digest)) -}}
{{- $messages = append $messages "image.digest must look like sha256:<64 hex digits>" -}}
{{- end -}}
{{- range $name, $value := dict "secrets.adminToken" .Values.secrets.adminToken "secrets.metricsToken" .Values.secrets.metricsToken -}}
{{- if and $value (lt (len $value) 24) -}}
{{- $messages = append $messages (printf "%s must be at least 24 characters (or leave it empty to generate one)" $name) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.secrets.adminToken (eq .Values.secrets.adminToken .Values.secrets.metricsToken) -}}
{{- $messages = append $messages "secrets.metricsToken must differ from secrets.adminToken (it is read-only)" -}}
{{- end -}}
{{- $server := default dict $config.server -}}
{{- if eq $backend "duckdb" -}}
{{- if gt (int .Values.replicaCount) 1 -}}
{{- $messages = append $messages "replicaCount: one process owns the DuckDB file, so at most 1 replica; set config.store.backend: postgres for more" -}}
{{- end -}}
{{- if .Values.autoscaling.hpa.enabled -}}
{{- $messages = append $messages "autoscaling.hpa.enabled: needs config.store.backend: postgres (DuckDB runs exactly one pod)" -}}
{{- end -}}
{{- if gt (int (default 1 $server.workers)) 1 -}}
{{- $messages = append $messages "config.server.workers: must be 1 with DuckDB (one process owns the file); set config.store.backend: postgres for more" -}}
{{- end -}}
{{- if .Values.jobs.dedicated.enabled -}}
{{- $messages = append $messages "jobs.dedicated.enabled: needs config.store.backend: postgres (with DuckDB the server's process owns the file and runs the jobs)" -}}
{{- end -}}
{{- else -}}
{{- $db := .Values.database -}}
{{- $pg := default dict (default dict $config.store).postgres -}}
{{- if not (or $db.existingSecret $db.host $pg.dsn $pg.dsn_file) -}}
{{- $messages = append $messages "database: with config.store.backend postgres set database.existingSecret (a Secret holding the DSN) or database.host (with database.existingPasswordSecret or database.password)" -}}
{{- end -}}
{{- if and $db.password .Values.secrets.existingSecret (not $db.existingSecret) (not $db.existingPasswordSecret) -}}
{{- $messages = append $messages "database.password cannot go into secrets.existingSecret (a Secret you manage): use database.existingPasswordSecret" -}}
{{- end -}}
{{- $blobs := default dict $config.blobs -}}
{{- if and (ne (toString (default "local" $blobs.backend)) "s3") (or (gt (int .Values.replicaCount) 1) .Values.autoscaling.hpa.enabled) -}}
{{- $messages = append $messages "config.blobs.backend: with more than one replica uploads must go to an object store (s3); a local folder would exist in one pod only" -}}
{{- end -}}
{{- if and .Values.autoscaling.hpa.enabled (not (or .Values.autoscaling.hpa.targetCPU .Values.autoscaling.hpa.targetMemory)) -}}
{{- $messages = append $messages "autoscaling.hpa: set targetCPU or targetMemory" -}}
{{- end -}}
{{- end -}}
{{- if and (eq (include "chatkit-onprem.kekProvider" .) "vault") (not .Values.secrets.existingSecret) (not .Values.secrets.vaultToken) -}}
{{- $messages = append $messages "secrets.vaultToken: config.crypto.kek.provider is vault; give the Vault/OpenBao token (or use secrets.existingSecret with a vault-token key)" -}}
{{- end -}}
{{- if and .Values.trust.caBundle.configMap .Values.trust.caBundle.secret -}}
{{- $messages = append $messages "trust.caBundle: set configMap or secret, not both" -}}
{{- end -}}
{{- if and .Values.httpRoute.enabled (not .Values.httpRoute.parentRefs) -}}
{{- $messages = append $messages "httpRoute.parentRefs: name the Gateway the route attaches to" -}}
{{- end -}}
{{- if $messages -}}
{{- printf "\nVALUES VALIDATION (%d problems):\n  - %s" (len $messages) (join "\n  - " $messages) | fail -}}
{{- end -}}
{{- end -}}
