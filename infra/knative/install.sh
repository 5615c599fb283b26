#!/usr/bin/env bash
# Installs Knative Serving (with Kourier), Knative Eventing (MT channel
# broker, in-memory channel) and the Gateway API CRDs, at the versions the
# chart's tests validate against. Idempotent: kubectl apply.
set -euo pipefail
SERVING=knative-v1.15.2
EVENTING=knative-v1.15.3
KOURIER=knative-v1.15.0
GATEWAY_API=v1.0.0
gh=https://github.com/knative

kubectl apply -f https://github.com/kubernetes-sigs/gateway-api/releases/download/$GATEWAY_API/standard-install.yaml

kubectl apply -f $gh/serving/releases/download/$SERVING/serving-crds.yaml
kubectl apply -f $gh/serving/releases/download/$SERVING/serving-core.yaml
kubectl apply -f $gh/net-kourier/releases/download/$KOURIER/kourier.yaml
kubectl patch configmap/config-network -n knative-serving --type merge \
  -p '{"data":{"ingress-class":"kourier.ingress.networking.knative.dev"}}'
# Knative Services of the chart are cluster-local; DomainMappings (optional)
# use the external domain set here.
kubectl patch configmap/config-domain -n knative-serving --type merge \
  -p "{\"data\":{\"${KNATIVE_DOMAIN:-127.0.0.1.sslip.io}\":\"\"}}"

kubectl apply -f $gh/eventing/releases/download/$EVENTING/eventing-crds.yaml
kubectl apply -f $gh/eventing/releases/download/$EVENTING/eventing-core.yaml
kubectl apply -f $gh/eventing/releases/download/$EVENTING/in-memory-channel.yaml
kubectl apply -f $gh/eventing/releases/download/$EVENTING/mt-channel-broker.yaml
# delivery-timeout (the Triggers' per-attempt timeout) is enabled by default
# in Eventing 1.15's config-features; keep it so.

kubectl wait --for=condition=Available deployment --all -n knative-serving --timeout=5m
kubectl wait --for=condition=Available deployment --all -n knative-eventing --timeout=5m
