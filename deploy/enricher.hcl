# Configuration of the enricher in the local stack (docker-compose.yml):
# three workers and the one-shot `setup` service read it at
# /etc/enricher/enricher.hcl. The compose file adds the ENRICHER_* variables
# of CONTRACT section 2 (NATS URL, ops listener, log level and format).
#
# The Defender API is the simulator (`enricher sim`) at http://sim:8089,
# which is why plain http to a non-loopback host is allowed here. Never set
# allow_insecure_http against the real API.

nats {
  url = "nats://nats:4222" # ENRICHER_NATS_URL overrides it
  # The `setup` service runs `enricher apply` once before the workers start,
  # so the workers only check the resources and need no right to change them.
  manage_resources = false
}

input {
  stream      = "ALERTS"
  subjects    = ["alerts.new"]
  consumer    = "enricher"
  ack_wait    = "30s"
  max_deliver = 10
}

output {
  stream  = "ENRICHED"
  subject = "alerts.enriched"
}

dead_letter {
  stream  = "ENRICHER_DLQ"
  subject = "alerts.dlq"
}

defender {
  base_url            = "http://sim:8089"
  token_url           = "http://sim:8089/local-tenant/oauth2/v2.0/token"
  tenant_id           = "local-tenant"
  client_id           = "enricher-local"
  # A file, as a secret manager would mount it (a compose secret here); never
  # put the secret itself in this file.
  client_secret_file  = "/run/secrets/defender_client_secret"
  allow_insecure_http = true
}

# One budget for every worker of the stack: the simulator enforces the
# documented limits per client, so the three workers together must stay
# under them.
quota {
  limits = ["100/1m", "1500/1h"]
  margin = "1s"
}

worker {
  concurrency = 16
}

http {
  listen = "0.0.0.0:9090" # Prometheus scrapes every replica here
}

log {
  level  = "info"
  format = "json"
}
