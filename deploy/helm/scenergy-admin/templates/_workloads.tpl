{{/*
Everything one service deploys: its ServiceAccount and ConfigMap; per enabled process a Deployment,
a Service, a PodDisruptionBudget and (optionally) a HorizontalPodAutoscaler; its migration hook Job;
its scheduled checks. Each templates/<service>.yaml includes it once:
  {{ include "scenergy.service" (dict "ctx" $ "service" "credits" "key" "credits") }}
*/}}
{{- define "scenergy.service" -}}
{{- $ctx := .ctx -}}
{{- $service := .service -}}
{{- $key := .key -}}
{{- $svc := index $ctx.Values $key -}}
{{- $args := dict "ctx" $ctx "service" $service "key" $key -}}
{{- $config := include "scenergy.serviceConfig" $args -}}
{{- $serviceAccount := include "scenergy.serviceAccountName" $args -}}
{{- $image := include "scenergy.image" $args -}}
{{- if $svc.serviceAccount.create }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $serviceAccount }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "scenergy.labels" (dict "ctx" $ctx "service" $service) | nindent 4 }}
  {{- with (merge (dict) ($svc.serviceAccount.annotations | default dict) ($ctx.Values.commonAnnotations | default dict)) }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "scenergy.configMapName" $args }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "scenergy.labels" (dict "ctx" $ctx "service" $service) | nindent 4 }}
  {{- with $ctx.Values.commonAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
data:
  {{- $config | nindent 2 }}
{{- range $process, $p := $svc.processes }}
{{- if $p.enabled }}
{{- $name := include "scenergy.processName" (dict "ctx" $ctx "service" $service "process" $process) }}
{{- $labelArgs := dict "ctx" $ctx "service" $service "component" $process }}
{{- $autoscaling := and $p.autoscaling $p.autoscaling.enabled }}
{{- $grace := $p.terminationGracePeriodSeconds }}
{{- if and (eq $service "generation") (eq $process "runner") }}
{{- /* A stopping runner finishes the job it holds (and acks it) before it exits. */}}
{{- $grace = add (int $svc.jobs.hardTimeoutSeconds) (mul 2 (int $svc.jobs.leaseSeconds)) }}
{{- end }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "scenergy.labels" $labelArgs | nindent 4 }}
  {{- with $ctx.Values.commonAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- if not $autoscaling }}
  replicas: {{ $p.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "scenergy.selectorLabels" $labelArgs | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "scenergy.labels" $labelArgs | nindent 8 }}
      annotations:
        checksum/config: {{ $config | sha256sum }}
        {{- with $p.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ $serviceAccount }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $grace | default 30 }}
      {{- include "scenergy.podCommon" $ctx | nindent 6 }}
      {{- if and $ctx.Values.scheduling.spreadAcrossNodes (not $ctx.Values.scheduling.affinity) }}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "scenergy.selectorLabels" $labelArgs | nindent 14 }}
      {{- end }}
      containers:
        - name: {{ $p.command }}
          image: {{ $image }}
          imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
          command: [{{ $p.command | quote }}]
          ports:
            {{- range $portName, $port := $p.ports }}
            - name: {{ $portName }}
              containerPort: {{ $port.port }}
              protocol: TCP
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ include "scenergy.configMapName" $args }}
          env:
            {{- range $portName, $port := $p.ports }}
            - name: {{ $port.env }}
              value: {{ $port.port | quote }}
            {{- end }}
            {{- if $p.prometheusMultiproc }}
            - name: PROMETHEUS_MULTIPROC_DIR
              value: {{ $ctx.Values.metricsVolume.mountPath | quote }}
            {{- end }}
            {{- range $envName, $value := $p.env }}
            - name: {{ $envName }}
              value: {{ $value | toString | quote }}
            {{- end }}
            {{- include "scenergy.secretEnvs" $args | nindent 12 }}
            {{- with $svc.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- $probes := $ctx.Values.probes }}
          {{- if $p.ports.grpc }}
          {{- /* gRPC servers: the standard gRPC health service says the server serves calls; /readyz that its database answers. */}}
          startupProbe:
            grpc:
              port: {{ $p.ports.grpc.port }}
            {{- toYaml $probes.startup | nindent 12 }}
          livenessProbe:
            grpc:
              port: {{ $p.ports.grpc.port }}
            {{- toYaml $probes.liveness | nindent 12 }}
          {{- else }}
          startupProbe:
            httpGet:
              path: /healthz
              port: http
            {{- toYaml $probes.startup | nindent 12 }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            {{- toYaml $probes.liveness | nindent 12 }}
          {{- end }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            {{- toYaml $probes.readiness | nindent 12 }}
          {{- with $p.preStopSleepSeconds }}
          lifecycle:
            preStop:
              sleep:
                seconds: {{ . }}
          {{- end }}
          resources:
            {{- toYaml $p.resources | nindent 12 }}
          securityContext:
            {{- toYaml $ctx.Values.containerSecurityContext | nindent 12 }}
          {{- include "scenergy.volumeMounts" (dict "ctx" $ctx "metrics" $p.prometheusMultiproc) | nindent 10 }}
      {{- include "scenergy.volumes" (dict "ctx" $ctx "metrics" $p.prometheusMultiproc) | nindent 6 }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "scenergy.labels" $labelArgs | nindent 4 }}
  {{- with $ctx.Values.commonAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: ClusterIP
  selector:
    {{- include "scenergy.selectorLabels" $labelArgs | nindent 4 }}
  ports:
    {{- range $portName, $port := $p.ports }}
    - name: {{ $portName }}
      port: {{ $port.port }}
      targetPort: {{ $portName }}
      protocol: TCP
      appProtocol: {{ ternary "grpc" "http" (eq $portName "grpc") }}
    {{- end }}
{{- if $p.pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "scenergy.labels" $labelArgs | nindent 4 }}
spec:
  maxUnavailable: {{ $p.pdb.maxUnavailable }}
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels:
      {{- include "scenergy.selectorLabels" $labelArgs | nindent 6 }}
{{- end }}
{{- if $autoscaling }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $name }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "scenergy.labels" $labelArgs | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $name }}
  minReplicas: {{ $p.autoscaling.minReplicas }}
  maxReplicas: {{ $p.autoscaling.maxReplicas }}
  metrics:
    {{- with $p.autoscaling.targetCPUUtilizationPercentage }}
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
    {{- with $p.autoscaling.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
    {{- with $p.autoscaling.metrics }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $p.autoscaling.behavior }}
  behavior:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if $ctx.Values.migrations.enabled }}
{{- $db := index $ctx.Values.secrets.databases $key }}
{{- $migrateArgs := dict "ctx" $ctx "service" $service "component" "migrate" }}
---
{{- /* Runs before the release's other objects exist, so it reads nothing but an existing Secret. */}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "scenergy.resourceName" (dict "ctx" $ctx "suffix" (printf "%s-migrate" $service)) }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "scenergy.labels" $migrateArgs | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-5"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: {{ $ctx.Values.migrations.backoffLimit }}
  activeDeadlineSeconds: {{ $ctx.Values.migrations.activeDeadlineSeconds }}
  template:
    metadata:
      labels:
        {{- include "scenergy.labels" $migrateArgs | nindent 8 }}
    spec:
      restartPolicy: Never
      {{- with $ctx.Values.migrations.serviceAccountName }}
      serviceAccountName: {{ . }}
      {{- end }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      {{- include "scenergy.podCommon" $ctx | nindent 6 }}
      containers:
        - name: {{ printf "%s-migrate" $service }}
          image: {{ $image }}
          imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
          command: [{{ printf "%s-migrate" $service | quote }}]
          env:
            - name: LOG_LEVEL
              value: {{ $ctx.Values.config.LOG_LEVEL | default "INFO" | quote }}
            {{- include "scenergy.secretEnv" (dict "name" "DATABASE_URL" "secret" $db.existingSecret "key" ($db.migrationKey | default $db.key) "what" (printf "secrets.databases.%s" $key)) | nindent 12 }}
          resources:
            {{- toYaml $ctx.Values.migrations.resources | nindent 12 }}
          securityContext:
            {{- toYaml $ctx.Values.containerSecurityContext | nindent 12 }}
          {{- include "scenergy.volumeMounts" (dict "ctx" $ctx) | nindent 10 }}
      {{- include "scenergy.volumes" (dict "ctx" $ctx) | nindent 6 }}
{{- end }}
{{- range $checkName, $c := $svc.cronJobs }}
{{- if $c.enabled }}
{{- $cronArgs := dict "ctx" $ctx "service" $service "component" $checkName }}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  {{- /* A CronJob's name leaves 11 characters for its Jobs' suffix. */}}
  name: {{ include "scenergy.processName" (dict "ctx" $ctx "service" $service "process" $checkName) | trunc 52 | trimSuffix "-" }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "scenergy.labels" $cronArgs | nindent 4 }}
spec:
  schedule: {{ $c.schedule | quote }}
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 600
  successfulJobsHistoryLimit: 1
  failedJobsHistoryLimit: 1
  jobTemplate:
    spec:
      backoffLimit: 0
      activeDeadlineSeconds: {{ $c.activeDeadlineSeconds }}
      template:
        metadata:
          labels:
            {{- include "scenergy.labels" $cronArgs | nindent 12 }}
          annotations:
            checksum/config: {{ $config | sha256sum }}
        spec:
          restartPolicy: Never
          serviceAccountName: {{ $serviceAccount }}
          automountServiceAccountToken: false
          enableServiceLinks: false
          {{- include "scenergy.podCommon" $ctx | nindent 10 }}
          containers:
            - name: {{ printf "%s-%s" $service $checkName }}
              image: {{ $image }}
              imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
              command:
                {{- toYaml $c.command | nindent 16 }}
              envFrom:
                - configMapRef:
                    name: {{ include "scenergy.configMapName" $args }}
              env:
                {{- include "scenergy.secretEnvs" $args | nindent 16 }}
                {{- with $svc.extraEnv }}
                {{- toYaml . | nindent 16 }}
                {{- end }}
              resources:
                {{- toYaml $c.resources | nindent 16 }}
              securityContext:
                {{- toYaml $ctx.Values.containerSecurityContext | nindent 16 }}
              {{- include "scenergy.volumeMounts" (dict "ctx" $ctx) | nindent 14 }}
          {{- include "scenergy.volumes" (dict "ctx" $ctx) | nindent 10 }}
{{- end }}
{{- end }}
{{- end -}}
