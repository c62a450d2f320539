package sim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is an injectable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// start mounts a simulator for opts in httptest.
func start(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	s := New(opts)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

// reply is a response read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body of %s: %v", req.URL.Path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body}
}

func newRequest(t *testing.T, method, u string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// postForm posts form to the v2 token endpoint of ts.
func postForm(t *testing.T, ts *httptest.Server, path string, form url.Values) reply {
	t.Helper()
	req := newRequest(t, http.MethodPost, ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, req)
}

func tokenForm(id, secret string) url.Values {
	return url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {id},
		"client_secret": {secret},
		"scope":         {"https://api.securitycenter.microsoft.com/.default"},
	}
}

// getToken fetches a token for client id (any secret accepted by default).
func getToken(t *testing.T, ts *httptest.Server, id, secret string) string {
	t.Helper()
	r := postForm(t, ts, "/tenant-1/oauth2/v2.0/token", tokenForm(id, secret))
	if r.status != http.StatusOK {
		t.Fatalf("token: status %d, body %s", r.status, r.body)
	}
	var tr tokenResponse
	if err := json.Unmarshal(r.body, &tr); err != nil || tr.AccessToken == "" {
		t.Fatalf("token body %s: %v", r.body, err)
	}
	return tr.AccessToken
}

// getUser calls GET /api/alerts/{id}/user with token ("" = no header).
func getUser(t *testing.T, ts *httptest.Server, tok, id string) reply {
	t.Helper()
	req := newRequest(t, http.MethodGet, ts.URL+"/api/alerts/"+id+"/user", nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return do(t, req)
}

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// checkEnvelope asserts r is an error envelope with status and code.
func checkEnvelope(t *testing.T, r reply, status int, code string) EnvelopeError {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	dec := json.NewDecoder(strings.NewReader(string(r.body)))
	dec.DisallowUnknownFields()
	var env Envelope
	if err := dec.Decode(&env); err != nil {
		t.Fatalf("body %s is not the error envelope: %v", r.body, err)
	}
	if env.Error.Code != code {
		t.Errorf("code = %q, want %q", env.Error.Code, code)
	}
	if env.Error.Message == "" {
		t.Error("message is empty")
	}
	if !guidRE.MatchString(env.Error.Target) {
		t.Errorf("target = %q, want a GUID", env.Error.Target)
	}
	return env.Error
}

// firstWithUser and firstWithoutUser pick alerts of the data set.
func firstWithUser(t *testing.T, s *Server) string {
	t.Helper()
	for _, id := range s.AlertIDs(-1) {
		if s.HasUser(id) {
			return id
		}
	}
	t.Fatal("no alert with a user")
	return ""
}

func firstWithoutUser(t *testing.T, s *Server) string {
	t.Helper()
	for _, id := range s.AlertIDs(-1) {
		if !s.HasUser(id) {
			return id
		}
	}
	t.Fatal("no alert without a user")
	return ""
}
