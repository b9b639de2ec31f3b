{{- define "shop.fullname" -}}
{{ .Release.Name }}-checkout
{{- end -}}
