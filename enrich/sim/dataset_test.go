package sim

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"testing"

	"github.com/enricher/enricher/schemas"
)

func TestDatasetDeterministic(t *testing.T) {
	t.Parallel()
	a := New(Options{Alerts: 300}).AlertIDs(-1)
	b := New(Options{Alerts: 300, Seed: 99}).AlertIDs(-1) // Seed does not change the data set
	small := New(Options{Alerts: 40}).AlertIDs(-1)
	if len(a) != 300 || !reflect.DeepEqual(a, b) {
		t.Fatalf("two data sets of 300 differ (or wrong size %d)", len(a))
	}
	if !reflect.DeepEqual(small, a[:40]) {
		t.Error("the data set of 40 is not a prefix of the one of 300")
	}
	s1, s2 := New(Options{Alerts: 300}), New(Options{Alerts: 40})
	for _, id := range small {
		if s1.HasUser(id) != s2.HasUser(id) || !reflect.DeepEqual(s1.User(id), s2.User(id)) {
			t.Errorf("%s: user differs with the data set size", id)
		}
	}
}

func TestDatasetFormats(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	ids := s.AlertIDs(-1)
	if len(ids) != DefaultAlerts {
		t.Fatalf("%d alerts, want %d", len(ids), DefaultAlerts)
	}
	formats := map[string]*regexp.Regexp{
		"da ticks":  regexp.MustCompile(`^da\d{18}_\d{10}$`),
		"ticks":     regexp.MustCompile(`^\d{18}_\d{10}$`),
		"da guid_n": regexp.MustCompile(`^da[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}_\d+$`),
	}
	seen := map[string]bool{}
	byFormat := map[string]int{}
	noUser := 0
	for _, id := range ids {
		if seen[id] {
			t.Errorf("duplicate %s", id)
		}
		seen[id] = true
		if !schemas.ValidAlertID(id) {
			t.Errorf("%s is not a valid alert ID", id)
		}
		matched := ""
		for name, re := range formats {
			if re.MatchString(id) {
				matched = name
			}
		}
		if matched == "" {
			t.Errorf("%s matches no documented format", id)
		}
		byFormat[matched]++
		if !s.HasUser(id) {
			noUser++
			if s.User(id) != nil {
				t.Errorf("%s: no user, but User returned one", id)
			}
		} else if s.User(id) == nil {
			t.Errorf("%s: HasUser, but User returned nil", id)
		}
	}
	for name := range formats {
		if byFormat[name] < 100 {
			t.Errorf("format %q: %d of 1000, want a real mix (%v)", name, byFormat[name], byFormat)
		}
	}
	if noUser < 60 || noUser > 140 {
		t.Errorf("%d of 1000 alerts have no user, want about 100", noUser)
	}
	if s.HasUser("636688558380765161_2136280442") || s.HasUser("") {
		t.Error("HasUser is true for an alert outside the data set")
	}
	if got := len(s.AlertIDs(0)); got != 0 {
		t.Errorf("AlertIDs(0) has %d IDs", got)
	}
}

func TestSimAlertsEndpoint(t *testing.T) {
	t.Parallel()
	s, ts := start(t, Options{Alerts: 25})
	get := func(q string) []string {
		r := do(t, newRequest(t, http.MethodGet, ts.URL+"/_sim/alerts"+q, nil))
		var ids []string
		if err := json.Unmarshal(r.body, &ids); err != nil || r.status != http.StatusOK || ids == nil {
			t.Fatalf("%s: status %d body %s: %v", q, r.status, r.body, err)
		}
		return ids
	}
	if got := get("?n=5"); !reflect.DeepEqual(got, s.AlertIDs(5)) || len(got) != 5 {
		t.Errorf("n=5: %v", got)
	}
	if got := get("?n=5"); !reflect.DeepEqual(got, New(Options{Alerts: 25}).AlertIDs(5)) {
		t.Error("n=5 differs between servers")
	}
	if got := get("?n=1000"); len(got) != 25 {
		t.Errorf("n=1000: %d IDs, want the data set's 25", len(got))
	}
	if got := get(""); !reflect.DeepEqual(got, s.AlertIDs(-1)) {
		t.Errorf("no n: %d IDs, want all 25", len(got))
	}
	if got := get("?n=0"); len(got) != 0 {
		t.Errorf("n=0: %v", got)
	}
}
