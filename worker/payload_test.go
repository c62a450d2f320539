package worker

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"testing"
	"time"

	"github.com/enricher/enricher/enrich/sim"
)

// TestDeadLetterOfMaxPayloadInput: an input that fills max_payload cannot
// be stored whole with the dead-letter headers. It must still end as one
// dead letter (its body cut and marked), never loop forever.
func TestDeadLetterOfMaxPayloadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 1})
	e.startWorkers(1)
	body := bytes.Repeat([]byte("x"), int(e.nc.MaxPayload())-50)
	small := []byte("a/b")
	e.publish(body, small)
	outputs, dead := e.waitSettled(30 * time.Second)
	if len(outputs) != 0 || len(dead) != 2 {
		t.Fatalf("got %d outputs and %d dead letters, want 0 and 2", len(outputs), len(dead))
	}
	for _, d := range dead {
		if c := d.Header.Get(HeaderErrorClass); c != ClassInvalidInput {
			t.Errorf("class %q, want invalid_input", c)
		}
		if len(d.Data) < 10 {
			if !bytes.Equal(d.Data, small) || d.Header.Get(HeaderBodyTruncated) != "" {
				t.Errorf("the small dead letter was changed: %q %v", d.Data, d.Header)
			}
			continue
		}
		if got := d.Header.Get(HeaderBodyTruncated); got != strconv.Itoa(len(body)) {
			t.Errorf("%s = %q, want %d", HeaderBodyTruncated, got, len(body))
		}
		sum := sha256.Sum256(body)
		if got := d.Header.Get(HeaderBodySHA256); got != hex.EncodeToString(sum[:]) {
			t.Errorf("%s = %q, want the digest of the original body", HeaderBodySHA256, got)
		}
		if !bytes.HasPrefix(body, d.Data) || len(d.Data) == 0 {
			t.Errorf("stored body (%d bytes) is not a prefix of the input", len(d.Data))
		}
	}
	ctxInfo, err := e.js.Consumer(t.Context(), e.Cfg.Input.Stream, e.Cfg.Input.Consumer)
	if err != nil {
		t.Fatal(err)
	}
	info, err := ctxInfo.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.Delivered.Consumer != info.Delivered.Stream {
		t.Errorf("redeliveries happened: %d deliveries for %d messages", info.Delivered.Consumer, info.Delivered.Stream)
	}
}
