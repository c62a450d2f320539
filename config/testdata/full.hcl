# enricher.hcl: every block and attribute the enricher reads (CONTRACT section 2),
# each set to a value other than its default where that makes sense.
# Every attribute is optional; expressions may read the environment as env.NAME
# (an unset variable is an error). ENRICHER_* variables override the file.

nats {
  # "" runs an embedded server; a comma-separated list reaches a cluster.
  url              = "tls://nats-1.example.net:4222, tls://nats-2.example.net:4222"
  # Set at most one authentication method: creds_file, nkey_file,
  # user/password or token. Empty strings mean "not set".
  creds_file       = ""
  nkey_file        = ""
  user             = "enricher"
  password         = env.NATS_PASSWORD
  token            = ""
  manage_resources = false

  tls {
    ca_file   = "/etc/enricher/nats-ca.pem"
    cert_file = "/etc/enricher/nats-client.pem"
    key_file  = "/etc/enricher/nats-client-key.pem"
  }

  # Used only when url is "".
  embedded {
    listen    = "127.0.0.1:14222"
    store_dir = "/var/lib/enricher/nats"
  }
}

input {
  stream      = "SECURITY_ALERTS"
  subjects    = ["alerts.new", "alerts.replay.*"]
  consumer    = "enricher_prod"
  ack_wait    = "45s"
  max_deliver = 8
  replicas    = 3
}

output {
  stream           = "ALERTS_ENRICHED"
  subject          = "alerts.out.enriched"
  duplicate_window = "5m"
  replicas         = 3
}

dead_letter {
  stream   = "ALERTS_DLQ"
  subject  = "alerts.out.dlq"
  replicas = 3
}

defender {
  base_url            = "https://api-eu.securitycenter.microsoft.com"
  token_url           = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
  scope               = "https://api-eu.securitycenter.microsoft.com/.default"
  tenant_id           = "contoso.onmicrosoft.com"
  client_id           = "8f1c2a7e-0000-4000-8000-00000000beef"
  client_secret       = ""    # or set client_secret_file; never printed or logged
  client_secret_file  = "/run/secrets/defender_client_secret"
  timeout             = "15s" # per HTTP attempt
  allow_insecure_http = false
  max_alert_age       = "168h"
}

quota {
  bucket   = "enricher_quota_prod"
  key      = "contoso-enricher"
  limits   = ["90/1m", "1400/1h"]
  margin   = "2s"
  replicas = 3
}

retry {
  attempts   = 4
  base_delay = "250ms"
  max_delay  = "30s"
}

cache {
  bucket   = "enricher_users_prod"
  ttl      = "12h"
  replicas = 3
  local_entries = 5000
}

worker {
  concurrency = 32
}

http {
  listen = "0.0.0.0:9191"
}

log {
  level  = "debug"
  format = "console"
}
