{{/*
The pod spec of the server's and the jobs process's workloads (role: server | jobs), one
definition so both mount the same config, secrets, trust and database credentials. The
jobs role (jobs.dedicated) runs `chatkit-onprem jobs`: no port, no probes.
Call with the root context merged with the role: (merge (dict "role" "jobs") .)
*/}}
{{- define "chatkit-onprem.podSpec" }}
{{- $role := .role }}
{{- $fullname := include "chatkit-onprem.fullname" . }}
{{- $postgres := eq (include "chatkit-onprem.backend" .) "postgres" }}
{{- $secretName := include "chatkit-onprem.secretName" . }}
{{- $passwordRef := include "chatkit-onprem.databasePasswordRef" . }}
{{- $trust := .Values.trust.caBundle }}
      {{- include "chatkit-onprem.imagePullSecrets" . | nindent 6 }}
      serviceAccountName: {{ include "chatkit-onprem.serviceAccountName" . }}
      automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
      enableServiceLinks: false
      {{- with .Values.priorityClassName }}
      priorityClassName: {{ . | quote }}
      {{- end }}
      terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
      {{- with .Values.hostAliases }}
      hostAliases:
        {{- include "chatkit-onprem.tplvalues" (dict "value" . "context" $) | nindent 8 }}
      {{- end }}
      {{- with .Values.podSecurityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- include "chatkit-onprem.tplvalues" (dict "value" . "context" $) | nindent 8 }}
      {{- end }}
      {{- with .Values.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- include "chatkit-onprem.tplvalues" (dict "value" . "context" $) | nindent 8 }}
      {{- end }}
      {{- with .Values.initContainers }}
      initContainers:
        {{- include "chatkit-onprem.tplvalues" (dict "value" . "context" $) | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ $role }}
          image: {{ include "chatkit-onprem.image" . }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          {{- with .Values.command }}
          command:
            {{- include "chatkit-onprem.tplvalues" (dict "value" . "context" $) | nindent 12 }}
          {{- end }}
          {{- if eq $role "jobs" }}
          args: ["jobs", "--config", "/etc/chatkit-onprem/config.yaml"]
          {{- else if .Values.args }}
          args:
            {{- include "chatkit-onprem.tplvalues" (dict "value" .Values.args "context" $) | nindent 12 }}
          {{- else }}
          args: ["serve", "--config", "/etc/chatkit-onprem/config.yaml"]
          {{- end }}
          env:
            - name: CHATKIT_ONPREM_CONFIG
              value: /etc/chatkit-onprem/config.yaml
            {{- range $key, $configKey := include "chatkit-onprem.secretFiles" . | fromJson }}
            {{- if $configKey }}
            - name: {{ include "chatkit-onprem.fileEnvName" $configKey }}
              value: {{ printf "%s/%s" $.Values.secrets.mountPath $key | quote }}
            {{- end }}
            {{- end }}
            {{- range $key, $configKey := include "chatkit-onprem.secretPaths" . | fromJson }}
            - name: {{ include "chatkit-onprem.envName" $configKey }}
              value: {{ printf "%s/%s" $.Values.secrets.mountPath $key | quote }}
            {{- end }}
            {{- if and $postgres .Values.database.existingSecret }}
            - name: CHATKIT_ONPREM_STORE__POSTGRES__DSN_FILE
              value: /etc/chatkit-onprem/database/dsn
            {{- end }}
            {{- if $passwordRef }}
            # libpq reads the password from here; the DSN in the config file holds none.
            - name: PGPASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ dir $passwordRef }}
                  key: {{ base $passwordRef }}
            {{- end }}
            {{- if or $trust.configMap $trust.secret }}
            # One trust source for every outbound client: the system store plus this bundle.
            - name: SSL_CERT_FILE
              value: {{ printf "/etc/chatkit-onprem/trust/%s" $trust.key | quote }}
            {{- end }}
            {{- with .Values.extraEnvVars }}
            {{- include "chatkit-onprem.tplvalues" (dict "value" . "context" $) | nindent 12 }}
            {{- end }}
          {{- if or .Values.extraEnvVarsCM .Values.extraEnvVarsSecret }}
          envFrom:
            {{- with .Values.extraEnvVarsCM }}
            - configMapRef:
                name: {{ include "chatkit-onprem.tplvalues" (dict "value" . "context" $) }}
            {{- end }}
            {{- with .Values.extraEnvVarsSecret }}
            - secretRef:
                name: {{ include "chatkit-onprem.tplvalues" (dict "value" . "context" $) }}
            {{- end }}
          {{- end }}
          {{- if eq $role "server" }}
          ports:
            - name: http
              containerPort: {{ .Values.containerPorts.http }}
              protocol: TCP
          {{- with .Values.lifecycleHooks }}
          lifecycle:
            {{- include "chatkit-onprem.tplvalues" (dict "value" . "context" $) | nindent 12 }}
          {{- end }}
          {{- if .Values.startupProbe.enabled }}
          startupProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: {{ .Values.startupProbe.periodSeconds }}
            timeoutSeconds: {{ .Values.startupProbe.timeoutSeconds }}
            failureThreshold: {{ .Values.startupProbe.failureThreshold }}
          {{- end }}
          {{- if .Values.livenessProbe.enabled }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            initialDelaySeconds: {{ .Values.livenessProbe.initialDelaySeconds }}
            periodSeconds: {{ .Values.livenessProbe.periodSeconds }}
            timeoutSeconds: {{ .Values.livenessProbe.timeoutSeconds }}
            failureThreshold: {{ .Values.livenessProbe.failureThreshold }}
          {{- end }}
          {{- if .Values.readinessProbe.enabled }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            initialDelaySeconds: {{ .Values.readinessProbe.initialDelaySeconds }}
            periodSeconds: {{ .Values.readinessProbe.periodSeconds }}
            timeoutSeconds: {{ .Values.readinessProbe.timeoutSeconds }}
            failureThreshold: {{ .Values.readinessProbe.failureThreshold }}
          {{- end }}
          {{- end }}{{/* server: ports, hooks, probes */}}
          {{- with (eq $role "jobs" | ternary .Values.jobs.dedicated.resources .Values.resources) }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with .Values.containerSecurityContext }}
          securityContext:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          volumeMounts:
            - name: config
              mountPath: /etc/chatkit-onprem/config.yaml
              subPath: config.yaml
              readOnly: true
            # The whole Secret, never with subPath: kubelet then updates the files in place
            # (a keyring version added to the Secret reaches the running server).
            - name: secrets
              mountPath: {{ .Values.secrets.mountPath }}
              readOnly: true
            - name: data
              mountPath: /data
            - name: tmp
              mountPath: /tmp
            {{- if or $trust.configMap $trust.secret }}
            - name: trust
              mountPath: /etc/chatkit-onprem/trust
              readOnly: true
            {{- end }}
            {{- if and $postgres .Values.database.existingSecret }}
            - name: database-dsn
              mountPath: /etc/chatkit-onprem/database
              readOnly: true
            {{- end }}
            {{- if and $postgres .Values.database.caSecret }}
            - name: database-ca
              mountPath: /etc/chatkit-onprem/database-ca
              readOnly: true
            {{- end }}
            {{- with .Values.extraVolumeMounts }}
            {{- include "chatkit-onprem.tplvalues" (dict "value" . "context" $) | nindent 12 }}
            {{- end }}
        {{- with .Values.sidecars }}
        {{- include "chatkit-onprem.tplvalues" (dict "value" . "context" $) | nindent 8 }}
        {{- end }}
      volumes:
        - name: config
          configMap:
            name: {{ $fullname }}
        - name: secrets
          secret:
            secretName: {{ $secretName }}
            defaultMode: 0440
        - name: data
          {{- if include "chatkit-onprem.usesClaim" . }}
          persistentVolumeClaim:
            claimName: {{ include "chatkit-onprem.claimName" . }}
          {{- else }}
          emptyDir: {}
          {{- end }}
        - name: tmp
          emptyDir:
            {{- with .Values.tmpVolume.medium }}
            medium: {{ . }}
            {{- end }}
            sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
        {{- if $trust.configMap }}
        - name: trust
          configMap:
            name: {{ $trust.configMap }}
            items:
              - key: {{ $trust.key }}
                path: {{ $trust.key }}
        {{- else if $trust.secret }}
        - name: trust
          secret:
            secretName: {{ $trust.secret }}
            items:
              - key: {{ $trust.key }}
                path: {{ $trust.key }}
        {{- end }}
        {{- if and $postgres .Values.database.existingSecret }}
        - name: database-dsn
          secret:
            secretName: {{ .Values.database.existingSecret }}
            defaultMode: 0440
            items:
              - key: {{ .Values.database.existingSecretDsnKey }}
                path: dsn
        {{- end }}
        {{- if and $postgres .Values.database.caSecret }}
        - name: database-ca
          secret:
            secretName: {{ .Values.database.caSecret }}
            items:
              - key: {{ .Values.database.caKey }}
                path: {{ .Values.database.caKey }}
        {{- end }}
        {{- with .Values.extraVolumes }}
        {{- include "chatkit-onprem.tplvalues" (dict "value" . "context" $) | nindent 8 }}
        {{- end }}
{{- end }}
