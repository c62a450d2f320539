# Three mistakes, all reported by one `enricher validate` run.
input {
  ack_wiat = "30s"
  ack_wait = "30 seconds"
}

defender {
  base_url = "http://defender-sim:8089"
}
