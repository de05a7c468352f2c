{{/*
Names, labels, images, environment and security settings shared by every template.
Named templates are `scenergy.<thing>`. Those taking a dict expect:
  ctx      the root context ($)
  service  the service name as deployed (admin-api, credits, audit, generation, payments)
  key      the service's key in the values (adminApi, credits, audit, generation, payments)
  process  the process name inside the service (http, grpc, worker, sink, runner, webhooks)
*/}}

{{- define "scenergy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release-and-chart prefix of every resource name (the release name alone when it contains the chart's). */}}
{{- define "scenergy.fullname" -}}
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

{{- define "scenergy.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* `<fullname>-<suffix>`, within the 63 characters of a DNS label. dict: ctx, suffix */}}
{{- define "scenergy.resourceName" -}}
{{- printf "%s-%s" (include "scenergy.fullname" .ctx) .suffix | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* A process's Deployment, Service, PDB and HPA name: `<fullname>-<service>-<process>`, e.g. `…-credits-grpc`. */}}
{{- define "scenergy.processName" -}}
{{- include "scenergy.resourceName" (dict "ctx" .ctx "suffix" (printf "%s-%s" .service .process)) -}}
{{- end -}}

{{/*
Standard labels. app.kubernetes.io/name is the service, component the process (or `migrate`,
a scheduled check's name), part-of the chart. dict: ctx, service, component (optional)
*/}}
{{- define "scenergy.labels" -}}
helm.sh/chart: {{ include "scenergy.chart" .ctx }}
{{ include "scenergy.selectorLabels" . }}
app.kubernetes.io/part-of: {{ include "scenergy.name" .ctx }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels: immutable name and instance, plus the component when the service has several Deployments. */}}
{{- define "scenergy.selectorLabels" -}}
app.kubernetes.io/name: {{ .service }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{/* Labels of the chart-wide objects (Ingress, NetworkPolicies, ServiceMonitor, PrometheusRule). */}}
{{- define "scenergy.commonLabels" -}}
{{ include "scenergy.labels" (dict "ctx" . "service" (include "scenergy.name" .)) }}
{{- end -}}

{{/* Selects every pod of this release. */}}
{{- define "scenergy.releaseSelector" -}}
app.kubernetes.io/part-of: {{ include "scenergy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The service's image: registry/repository, then @digest or :tag (service tag, image.tag, appVersion). dict: ctx, key */}}
{{- define "scenergy.image" -}}
{{- $svc := index .ctx.Values .key -}}
{{- $repository := $svc.image.repository -}}
{{- with .ctx.Values.global.imageRegistry }}{{ $repository = printf "%s/%s" . $repository }}{{ end -}}
{{- if $svc.image.digest -}}
{{- printf "%s@%s" $repository $svc.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (toString ($svc.image.tag | default .ctx.Values.image.tag | default .ctx.Chart.AppVersion)) -}}
{{- end -}}
{{- end -}}

{{- define "scenergy.serviceAccountName" -}}
{{- $svc := index .ctx.Values .key -}}
{{- if $svc.serviceAccount.create -}}
{{- default (include "scenergy.resourceName" (dict "ctx" .ctx "suffix" .service)) $svc.serviceAccount.name -}}
{{- else -}}
{{- default "default" $svc.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "scenergy.configMapName" -}}
{{- include "scenergy.resourceName" (dict "ctx" .ctx "suffix" (printf "%s-config" .service)) -}}
{{- end -}}

{{/* host:port of a service's gRPC server, as the other services reach it. dict: ctx, service, key */}}
{{- define "scenergy.grpcAddr" -}}
{{- $svc := index .ctx.Values .key -}}
{{- printf "%s:%v" (include "scenergy.processName" (dict "ctx" .ctx "service" .service "process" "grpc")) $svc.processes.grpc.ports.grpc.port -}}
{{- end -}}

{{/*
The service's non-secret settings, as YAML: the shared `config`, overridden by the service's own
`config`; what the chart computes (the other services' addresses, the public URL, the job timeouts)
fills the settings left empty.
dict: ctx, service, key
*/}}
{{- define "scenergy.serviceConfig" -}}
{{- $ctx := .ctx -}}
{{- $svc := index $ctx.Values .key -}}
{{- $computed := dict -}}
{{- if eq .service "admin-api" -}}
{{- $_ := set $computed "CREDITS_ADDR" (include "scenergy.grpcAddr" (dict "ctx" $ctx "service" "credits" "key" "credits")) -}}
{{- $_ := set $computed "AUDIT_ADDR" (include "scenergy.grpcAddr" (dict "ctx" $ctx "service" "audit" "key" "audit")) -}}
{{- $_ := set $computed "GENERATION_ADDR" (include "scenergy.grpcAddr" (dict "ctx" $ctx "service" "generation" "key" "generation")) -}}
{{- $_ := set $computed "PAYMENTS_ADDR" (include "scenergy.grpcAddr" (dict "ctx" $ctx "service" "payments" "key" "payments")) -}}
{{- if and (not $svc.config.PUBLIC_URL) $ctx.Values.ingress.hostname -}}
{{- $_ := set $computed "PUBLIC_URL" (printf "https://%s" $ctx.Values.ingress.hostname) -}}
{{- end -}}
{{- end -}}
{{- if or (eq .service "generation") (eq .service "payments") -}}
{{- $_ := set $computed "CREDITS_ADDR" (include "scenergy.grpcAddr" (dict "ctx" $ctx "service" "credits" "key" "credits")) -}}
{{- end -}}
{{- if eq .service "generation" -}}
{{- include "scenergy.validateJobTimeouts" $ctx -}}
{{- $_ := set $computed "JOB_HARD_TIMEOUT_S" (toString $svc.jobs.hardTimeoutSeconds) -}}
{{- $_ := set $computed "JOB_LEASE_S" (toString $svc.jobs.leaseSeconds) -}}
{{- $_ := set $computed "BROKER_CONSUMER_TIMEOUT_S" (toString $svc.jobs.brokerConsumerTimeoutSeconds) -}}
{{- end -}}
{{- $config := dict -}}
{{- range $name, $value := $ctx.Values.config }}{{ $_ := set $config $name (toString $value) }}{{ end -}}
{{- range $name, $value := $svc.config }}{{ $_ := set $config $name (toString $value) }}{{ end -}}
{{- /* An empty value is the code's default for every setting (and "no role" for AUDIT_DB_ROLE); a computed one fills it. */}}
{{- range $name, $value := $computed }}{{ if not (get $config $name) }}{{ $_ := set $config $name $value }}{{ end }}{{ end -}}
{{- toYaml $config -}}
{{- end -}}

{{/* The runners' hard timeout plus two leases must end a job before RabbitMQ's consumer_timeout closes its channel (generation/config.py refuses to start otherwise). */}}
{{- define "scenergy.validateJobTimeouts" -}}
{{- $jobs := .Values.generation.jobs -}}
{{- range $name := list "JOB_HARD_TIMEOUT_S" "JOB_LEASE_S" "BROKER_CONSUMER_TIMEOUT_S" -}}
{{- if hasKey $.Values.generation.config $name }}{{ fail (printf "set generation.jobs.* rather than generation.config.%s" $name) }}{{ end -}}
{{- end -}}
{{- if ge (add (int $jobs.hardTimeoutSeconds) (mul 2 (int $jobs.leaseSeconds))) (int $jobs.brokerConsumerTimeoutSeconds) -}}
{{- fail (printf "generation.jobs.brokerConsumerTimeoutSeconds (%v) must exceed hardTimeoutSeconds + 2 × leaseSeconds (%v + 2 × %v); raise it together with RabbitMQ's consumer_timeout" $jobs.brokerConsumerTimeoutSeconds $jobs.hardTimeoutSeconds $jobs.leaseSeconds) -}}
{{- end -}}
{{- end -}}

{{/* One env entry read from an existing Secret. dict: name, secret, key, what (for the error message) */}}
{{- define "scenergy.secretEnv" -}}
{{- if not .secret }}{{ fail (printf "%s: name an existing Secret (the chart never creates one)" .what) }}{{ end -}}
{{- if not .key }}{{ fail (printf "%s: name the key inside Secret %s" .what .secret) }}{{ end -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret | quote }}
      key: {{ .key | quote }}
{{- end -}}

{{/*
The secret environment of a service's processes: its database, the broker, the service credential,
and what the service alone needs (the audit signing key; Gemini and S3; Stripe). dict: ctx, service, key
*/}}
{{- define "scenergy.secretEnvs" -}}
{{- $s := .ctx.Values.secrets -}}
{{- $db := index $s.databases .key -}}
{{- include "scenergy.secretEnv" (dict "name" "DATABASE_URL" "secret" $db.existingSecret "key" $db.key "what" (printf "secrets.databases.%s" .key)) }}
{{ include "scenergy.secretEnv" (dict "name" "BROKER_URL" "secret" $s.broker.existingSecret "key" $s.broker.key "what" "secrets.broker") }}
{{ include "scenergy.secretEnv" (dict "name" "SERVICE_CREDENTIAL_KEY" "secret" $s.serviceCredential.existingSecret "key" $s.serviceCredential.key "what" "secrets.serviceCredential") }}
{{- if eq .service "audit" }}
{{ include "scenergy.secretEnv" (dict "name" "AUDIT_SIGNING_KEY" "secret" $s.auditSigningKey.existingSecret "key" $s.auditSigningKey.key "what" "secrets.auditSigningKey") }}
{{- end }}
{{- if eq .service "generation" }}
{{- if $s.gemini.existingSecret }}
{{ include "scenergy.secretEnv" (dict "name" "GEMINI_API_KEY" "secret" $s.gemini.existingSecret "key" $s.gemini.key "what" "secrets.gemini") }}
{{- end }}
{{- if $s.s3.existingSecret }}
{{ include "scenergy.secretEnv" (dict "name" "S3_ACCESS_KEY_ID" "secret" $s.s3.existingSecret "key" $s.s3.accessKeyIdKey "what" "secrets.s3") }}
{{ include "scenergy.secretEnv" (dict "name" "S3_SECRET_ACCESS_KEY" "secret" $s.s3.existingSecret "key" $s.s3.secretAccessKeyKey "what" "secrets.s3") }}
{{- end }}
{{- end }}
{{- if eq .service "payments" }}
{{ include "scenergy.secretEnv" (dict "name" "STRIPE_WEBHOOK_SECRET" "secret" $s.stripe.existingSecret "key" $s.stripe.webhookSecretKey "what" "secrets.stripe") }}
{{- if $s.stripe.apiKeyKey }}
{{ include "scenergy.secretEnv" (dict "name" "STRIPE_API_KEY" "secret" $s.stripe.existingSecret "key" $s.stripe.apiKeyKey "what" "secrets.stripe") }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Pod-level settings every pod shares: pull secrets, security context, scheduling. */}}
{{- define "scenergy.podCommon" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- with .Values.scheduling.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.scheduling.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.scheduling.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.scheduling.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The writable volumes of a read-only container: /tmp always, the multiprocess metrics directory for gunicorn. dict: ctx, metrics (bool) */}}
{{- define "scenergy.volumes" -}}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ .ctx.Values.tmpVolume.sizeLimit }}
{{- if .metrics }}
  - name: prometheus-multiproc
    emptyDir:
      sizeLimit: {{ .ctx.Values.metricsVolume.sizeLimit }}
{{- end }}
{{- end -}}

{{- define "scenergy.volumeMounts" -}}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- if .metrics }}
  - name: prometheus-multiproc
    mountPath: {{ .ctx.Values.metricsVolume.mountPath }}
{{- end }}
{{- end -}}

{{/* A NetworkPolicy peer: the pods of one process of this release. dict: ctx, service, component */}}
{{- define "scenergy.peer" -}}
- podSelector:
    matchLabels:
      {{- include "scenergy.selectorLabels" . | nindent 6 }}
{{- end -}}

{{/*
Who calls which gRPC server, from the code: the gateway calls all four; generation (its server,
runners and worker: holds, captures, releases) and payments (its server: refunds; its worker:
purchases) call credits. The payments webhook endpoint only verifies and stores: it calls nothing.
*/}}
{{- define "scenergy.grpcCallers" -}}
credits:
  - {service: admin-api, component: http}
  - {service: generation, component: grpc}
  - {service: generation, component: runner}
  - {service: generation, component: worker}
  - {service: payments, component: grpc}
  - {service: payments, component: worker}
audit:
  - {service: admin-api, component: http}
generation:
  - {service: admin-api, component: http}
payments:
  - {service: admin-api, component: http}
{{- end -}}
