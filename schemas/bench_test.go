package schemas

import (
	"encoding/json"
	"testing"
	"time"
)

// benchUser is a user entity of the documented size and shape.
var benchUser = json.RawMessage(`{"@odata.context":"https://api.securitycenter.windows.com/api/$metadata#Users/$entity",` +
	`"id":"contoso\\user1","accountName":"user1","accountDomain":"contoso","accountSid":"S-1-5-21-72051607-1745760036-109187956-90001",` +
	`"firstSeen":"2019-12-08T06:33:39Z","lastSeen":"2020-01-05T06:58:34Z","mostPrevalentMachineId":"0a3250e0693a109f1affc9217be9459028aa8426",` +
	`"leastPrevalentMachineId":"0a3250e0693a109f1affc9217be9459028aa8426","logonTypes":"Network","logOnMachinesCount":1,` +
	`"isDomainAdmin":false,"isOnlyNetworkUser":true}`)

// BenchmarkParseInput measures parsing one input body: a bare alert ID and
// a JSON object with extra fields and a lastUpdateTime.
func BenchmarkParseInput(b *testing.B) {
	bodies := []struct {
		name string
		body []byte
	}{
		{"bare", []byte("da637472900382838869_1364969609")},
		{"json", []byte(`{"id":"da637472900382838869_1364969609","title":"Suspicious PowerShell command line","severity":"Medium","lastUpdateTime":"2026-12-04T15:00:00Z"}`)},
	}
	for _, c := range bodies {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				in, err := ParseInput(c.body)
				if err != nil || in.ID == "" {
					b.Fatalf("ParseInput: %v", err)
				}
			}
		})
	}
}

// BenchmarkEnrichedMarshal measures building and encoding one output event
// (NewEnriched then Marshal), for a JSON input with a user entity.
func BenchmarkEnrichedMarshal(b *testing.B) {
	in, err := ParseInput([]byte(`{"id":"da637472900382838869_1364969609","title":"Suspicious PowerShell command line","severity":"Medium","lastUpdateTime":"2026-12-04T15:00:00Z"}`))
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)
	b.Run("marshal", func(b *testing.B) {
		e := NewEnriched(in, StatusEnriched, benchUser, SourceAPI, 1, at, "host-1234")
		b.ReportAllocs()
		var n int
		for b.Loop() {
			out, err := e.Marshal()
			if err != nil {
				b.Fatal(err)
			}
			n = len(out)
		}
		b.SetBytes(int64(n))
	})
	b.Run("new+marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e := NewEnriched(in, StatusEnriched, benchUser, SourceAPI, 1, at, "host-1234")
			if _, err := e.Marshal(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
