package sim

import (
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// documentedFields are the keys of the documented example (testdata/user-200.json).
func documentedFields(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/user-200.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestUserEntity(t *testing.T) {
	t.Parallel()
	s, ts := start(t, Options{})
	tok := getToken(t, ts, "app", "s")
	doc := documentedFields(t)
	sidRE := regexp.MustCompile(`^S-1-5-21-\d+-\d+-\d+-\d+$`)
	machineRE := regexp.MustCompile(`^[0-9a-f]{40}$`)
	ids := map[string]bool{}
	checked := 0
	for _, id := range s.AlertIDs(30) {
		if !s.HasUser(id) {
			continue
		}
		checked++
		r := getUser(t, ts, tok, id)
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s: status %d, type %q", id, r.status, r.header.Get("Content-Type"))
		}
		var got map[string]any
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		for k, v := range doc {
			gv, ok := got[k]
			if !ok {
				t.Errorf("%s: field %q missing", id, k)
				continue
			}
			if reflect.TypeOf(gv) != reflect.TypeOf(v) {
				t.Errorf("%s: field %q is %T, documented %T", id, k, gv, v)
			}
		}
		if len(got) != len(doc) {
			t.Errorf("%s: %d fields, documented %d", id, len(got), len(doc))
		}
		if got["@odata.context"] != doc["@odata.context"] {
			t.Errorf("@odata.context = %v", got["@odata.context"])
		}
		uid, _ := got["id"].(string)
		dom, name, _ := strings.Cut(uid, `\`)
		if got["accountDomain"] != dom || got["accountName"] != name || !strings.HasPrefix(name, "user") {
			t.Errorf("%s: id %q does not match accountDomain %v and accountName %v", id, uid, got["accountDomain"], got["accountName"])
		}
		if !sidRE.MatchString(got["accountSid"].(string)) || !machineRE.MatchString(got["mostPrevalentMachineId"].(string)) {
			t.Errorf("%s: malformed sid or machine id in %s", id, r.body)
		}
		if got["firstSeen"].(string) >= got["lastSeen"].(string) {
			t.Errorf("%s: firstSeen %v not before lastSeen %v", id, got["firstSeen"], got["lastSeen"])
		}
		if want := s.User(id); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: served %v, User() says %v", id, got, want)
		}
		ids[uid] = true
	}
	if checked < 20 || len(ids) < checked/2 {
		t.Errorf("%d users checked, %d distinct ids: want varied users", checked, len(ids))
	}
	if st := s.Stats(); st.ByStatus[http.StatusOK] != checked || st.Requests != checked {
		t.Errorf("stats = %+v, want %d requests all 200", st, checked)
	}
}

func TestUserFieldOrderMatchesDocumentation(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	body := string(mustJSON(s.data.user(0)))
	doc, err := os.ReadFile("testdata/user-200.json")
	if err != nil {
		t.Fatal(err)
	}
	keyRE := regexp.MustCompile(`"([@A-Za-z.]+)":`)
	keys := func(s string) (out []string) {
		for _, m := range keyRE.FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		return out
	}
	if got, want := keys(body), keys(string(doc)); !reflect.DeepEqual(got, want) {
		t.Errorf("keys %v, documented %v", got, want)
	}
}

func TestUnauthorized(t *testing.T) {
	t.Parallel()
	s, ts := start(t, Options{})
	id := firstWithUser(t, s)
	getToken(t, ts, "app", "s") // a token exists, but none of these present it
	for name, header := range map[string]string{
		"missing":       "",
		"unknown token": "Bearer bm90LWEtdG9rZW4",
		"basic scheme":  "Basic YXBwOnM=",
		"empty bearer":  "Bearer ",
		"no scheme":     "bm90LWEtdG9rZW4",
	} {
		req := newRequest(t, http.MethodGet, ts.URL+"/api/alerts/"+id+"/user", nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		r := do(t, req)
		t.Run(name, func(t *testing.T) {
			checkEnvelope(t, r, http.StatusUnauthorized, "Unauthorized")
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	if st := s.Stats(); st.ByStatus[http.StatusUnauthorized] != 5 || st.Requests != 5 {
		t.Errorf("stats = %+v, want 5 API requests, all 401", st)
	}
	for _, req := range s.Requests() {
		if req.ClientID != "" || req.Status != http.StatusUnauthorized || req.AlertID != id {
			t.Errorf("logged %+v, want a 401 for %s without a client", req, id)
		}
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	s, ts := start(t, Options{})
	tok := getToken(t, ts, "app", "s")
	noUser := firstWithoutUser(t, s)
	if s.User(noUser) != nil || s.User("636688558380765161_2136280442") != nil {
		t.Error("User returned an entity for an alert without one")
	}
	e := checkEnvelope(t, getUser(t, ts, tok, noUser), http.StatusNotFound, "ResourceNotFound")
	if !strings.Contains(e.Message, noUser) {
		t.Errorf("message %q does not name the alert", e.Message)
	}
	checkEnvelope(t, getUser(t, ts, tok, "636688558380765161_2136280442"), http.StatusNotFound, "ResourceNotFound")
	e = checkEnvelope(t, getUser(t, ts, tok, "bad%3Cscript%3E"), http.StatusNotFound, "ResourceNotFound")
	if strings.Contains(e.Message, "<script>") {
		t.Errorf("message %q echoes a malformed id", e.Message)
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	_, ts := start(t, Options{})
	tests := []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/", 404, "NotFound"},
		{http.MethodGet, "/api/alerts/x", 404, "NotFound"},
		{http.MethodGet, "/api/alerts//user", 404, "NotFound"},
		{http.MethodGet, "/api/alerts/x/user/extra", 404, "NotFound"},
		{http.MethodGet, "/_sim/nothing", 404, "NotFound"},
		{http.MethodPost, "/api/alerts/x/user", 405, "BadRequest"},
		{http.MethodDelete, "/api/alerts/x/user", 405, "BadRequest"},
		{http.MethodPost, "/_sim/stats", 405, "BadRequest"},
		{http.MethodPost, "/_sim/alerts", 405, "BadRequest"},
		{http.MethodGet, "/_sim/reset", 405, "BadRequest"},
		{http.MethodGet, "/_sim/alerts?n=abc", 400, "BadRequest"},
		{http.MethodGet, "/_sim/alerts?n=-1", 400, "BadRequest"},
	}
	for _, tc := range tests {
		r := do(t, newRequest(t, tc.method, ts.URL+tc.path, nil))
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			checkEnvelope(t, r, tc.status, tc.code)
			if tc.status == 405 && r.header.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}
}

func TestRequestsLog(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, ts := start(t, Options{Now: clock.Now, RequestLog: 3})
	tok := getToken(t, ts, "app-1", "s")
	ids := s.AlertIDs(5)
	for _, id := range ids {
		getUser(t, ts, tok, id)
		clock.Advance(time.Second)
	}
	got := s.Requests()
	if len(got) != 3 {
		t.Fatalf("%d requests logged, want the last 3", len(got))
	}
	start := clock.Now().Add(-3 * time.Second)
	for i, r := range got {
		want := Request{Time: start.Add(time.Duration(i) * time.Second), AlertID: ids[2+i], ClientID: "app-1", Status: http.StatusOK}
		if !s.HasUser(want.AlertID) {
			want.Status = http.StatusNotFound
		}
		if !r.Time.Equal(want.Time) || r.AlertID != want.AlertID || r.ClientID != want.ClientID || r.Status != want.Status {
			t.Errorf("request %d = %+v, want %+v", i, r, want)
		}
	}
	if st := s.Stats(); st.Requests != 5 {
		t.Errorf("requests = %d, want 5 (the log bound does not limit counting)", st.Requests)
	}
	sort.Strings(ids) // AlertIDs returned a copy: sorting it changes nothing in s
	if !reflect.DeepEqual(s.AlertIDs(5), New(Options{}).AlertIDs(5)) {
		t.Error("AlertIDs exposes the data set to mutation")
	}
}
