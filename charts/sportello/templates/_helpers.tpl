{{/*
The function manifest, generated from functions/manifest: the one
declaration of the functions, their routes, the events they emit and their
Triggers with delivery policies.
*/}}
{{- define "sportello.manifest" -}}
{{- $.Files.Get "files/manifest.json" -}}
{{- end -}}

{{/* The functions of the manifest that are enabled, as a JSON list. */}}
{{- define "sportello.functions" -}}
{{- $m := include "sportello.manifest" . | fromJson -}}
{{- $known := dict -}}
{{- range $m.functions }}{{ $_ := set $known .name true }}{{ end -}}
{{- range $name, $_ := .Values.functions -}}
{{- if not (hasKey $known $name) -}}
{{- fail (printf "functions.%s: no function called %s in the manifest (files/manifest.json)" $name $name) -}}
{{- end -}}
{{- end -}}
{{- $out := list -}}
{{- range $m.functions -}}
{{- $fv := include "sportello.functionValues" (list $ .name) | fromYaml -}}
{{- if $fv.enabled -}}
{{- $out = append $out (merge (dict "values" $fv) .) -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
A function's values: functionDefaults, with the keys its entry under
functions gives replacing them (maps merged one level deep).
*/}}
{{- define "sportello.functionValues" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $d := $root.Values.functionDefaults -}}
{{- $o := index ($root.Values.functions | default dict) $name | default dict -}}
{{- $out := dict -}}
{{- range $k, $v := $d -}}
{{- if hasKey $o $k -}}
{{- $ov := index $o $k -}}
{{- if and (kindIs "map" $v) (kindIs "map" $ov) -}}
{{- $m := deepCopy $v -}}
{{- range $k2, $v2 := $ov }}{{ $_ := set $m $k2 $v2 }}{{ end -}}
{{- $_ := set $out $k $m -}}
{{- else -}}
{{- $_ := set $out $k $ov -}}
{{- end -}}
{{- else -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{- define "sportello.image" -}}
{{- $root := index . 0 -}}{{- $name := index . 1 -}}{{- $explicit := index . 2 -}}
{{- if $explicit -}}{{ $explicit }}{{- else -}}
{{- printf "%s/%s:%s" $root.Values.image.repository $name ($root.Values.image.tag | default $root.Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{- define "sportello.labels" -}}
app.kubernetes.io/part-of: sportello
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The name of the Secret of a credentials group. */}}
{{- define "sportello.secretName" -}}
{{- $root := index . 0 -}}{{- $group := index . 1 -}}
{{- $g := index $root.Values.secrets $group -}}
{{- if not $g -}}{{- fail (printf "no secrets group called %s (known: %s)" $group (keys $root.Values.secrets | sortAlpha | join ", ")) -}}{{- end -}}
{{- $g.existingSecret | default (printf "%s-%s" $root.Release.Name $group) -}}
{{- end -}}

{{/* env entries for the credentials groups in list . 1 */}}
{{- define "sportello.secretEnv" -}}
{{- $root := index . 0 -}}{{- $groups := index . 1 -}}
{{- range $group := $groups }}
{{- $g := index $root.Values.secrets $group }}
{{- $secret := include "sportello.secretName" (list $root $group) }}
{{- range $env, $key := $g.env }}
- name: {{ $env }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
      {{- if $g.optional }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The dead-letter sink, as a Destination. */}}
{{- define "sportello.deadLetterSink" -}}
{{- if .Values.deadLetters.uri -}}
uri: {{ .Values.deadLetters.uri | quote }}
{{- else -}}
ref:
  apiVersion: serving.knative.dev/v1
  kind: Service
  name: {{ .Values.deadLetters.service.name }}
{{- end -}}
{{- end -}}

{{- define "sportello.brokerRef" -}}
ref:
  apiVersion: eventing.knative.dev/v1
  kind: Broker
  name: {{ .Values.broker.name }}
{{- end -}}

{{/* The container securityContext of every workload: non-root, read-only. */}}
{{- define "sportello.securityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
The OpenTelemetry variables of function list . 1 (telemetry in values), as
env entries; a variable the function's own env sets (list . 2) is left to it.
*/}}
{{- define "sportello.telemetryEnv" -}}
{{- $root := index . 0 -}}{{- $name := index . 1 -}}{{- $own := index . 2 | default dict -}}
{{- $t := $root.Values.telemetry -}}
{{- if and (eq $t.metrics.exporter "otlp") (not $t.otlpEndpoint) -}}
{{- fail "telemetry.metrics.exporter otlp needs telemetry.otlpEndpoint" -}}
{{- end -}}
{{- $env := dict "OTEL_SERVICE_NAME" $name "OTEL_METRICS_EXPORTER" $t.metrics.exporter -}}
{{- with $t.traces.sampler }}{{ $_ := set $env "OTEL_TRACES_SAMPLER" . }}{{ $_ := set $env "OTEL_TRACES_SAMPLER_ARG" ($t.traces.samplerArg | toString) }}{{ end -}}
{{- with $t.otlpEndpoint }}{{ $_ := set $env "OTEL_EXPORTER_OTLP_ENDPOINT" . }}{{ end -}}
{{- if eq $t.metrics.exporter "prometheus" }}{{ $_ := set $env "OTEL_EXPORTER_PROMETHEUS_PORT" ($t.metrics.port | toString) }}{{ end -}}
{{- range $k, $v := $env }}
{{- if not (hasKey $own $k) }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- end }}
{{- end -}}
