package enrich

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test data from /work/shared/fixtures (inlined: tests must not read outside
// the module).
const (
	stubUserJSON = `{
    "@odata.context": "https://api.securitycenter.windows.com/api/$metadata#Users/$entity",
    "id": "contoso\\user1",
    "accountName": "user1",
    "accountDomain": "contoso",
    "accountSid": "S-1-5-21-72051607-1745760036-109187956-93922",
    "firstSeen": "2019-12-08T06:33:39Z",
    "lastSeen": "2020-01-05T06:58:34Z",
    "mostPrevalentMachineId": "0111b647235c26159bec3e5eb6c8c3a0cc3ab766",
    "leastPrevalentMachineId": "0111b647235c26159bec3e5eb6c8c3a0cc3ab766",
    "logonTypes": "Network",
    "logOnMachinesCount": 1,
    "isDomainAdmin": false,
    "isOnlyNetworkUser": false
}`
	stubUserCompact = `{"id":"contoso\\user1","accountName":"user1","accountDomain":"contoso",` +
		`"accountSid":"S-1-5-21-72051607-1745760036-109187956-93922","firstSeen":"2019-12-08T06:33:39Z",` +
		`"lastSeen":"2020-01-05T06:58:34Z","mostPrevalentMachineId":"0111b647235c26159bec3e5eb6c8c3a0cc3ab766",` +
		`"leastPrevalentMachineId":"0111b647235c26159bec3e5eb6c8c3a0cc3ab766","logonTypes":"Network",` +
		`"logOnMachinesCount":1,"isDomainAdmin":false,"isOnlyNetworkUser":false}`
	stubAlertID  = "636688558380765161_2136280442"
	stubClientID = "client-1"
	stubSecret   = "S3cr3t~value.Never-Logged"
	stubTarget   = "43f4cb08-8fac-4b65-9db1-745c2ae65f3a"
)

// stubErrors are the documented error codes, one per status (errors.json).
var stubErrors = map[int][2]string{
	400: {"InvalidInput", "The request is invalid."},
	401: {"Unauthorized", "Invalid Authorization payload."},
	403: {"Forbidden", "The application does not have the required permission."},
	404: {"ResourceNotFound", "Alert 636688558380765161_2136280442 was not found."},
	429: {"TooManyRequests", "API call quota exceeded."},
	500: {"InternalServerError", "An internal error occurred."},
	502: {"BadGateway", "Bad gateway."},
	503: {"ServiceUnavailable", "Service unavailable."},
	504: {"GatewayTimeout", "Gateway timeout."},
}

// stubReq is one API request as the stub saw it.
type stubReq struct {
	at   time.Time
	path string
	auth string
}

// stubAPI is a small Defender API plus token endpoint on real HTTP.
type stubAPI struct {
	srv *httptest.Server

	mu         sync.Mutex
	secret     string // the accepted client secret
	expiresIn  int
	tokenDelay time.Duration
	tokens     []string // issued, oldest first
	tokenForms []url.Values
	tokenAuth  []string // Authorization headers seen by the token endpoint
	reqs       []stubReq
	marks      []time.Time // times noted by handlers
	handle     func(s *stubAPI, w http.ResponseWriter, r *http.Request, n int)
}

// newStub starts a stub whose API requests (n counts from 1) go to handle.
func newStub(t testing.TB, handle func(s *stubAPI, w http.ResponseWriter, r *http.Request, n int)) *stubAPI {
	t.Helper()
	s := &stubAPI{secret: stubSecret, expiresIn: 3599, handle: handle}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tenant-1/oauth2/v2.0/token", s.serveToken)
	mux.HandleFunc("/", s.serveAPI)
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *stubAPI) serveToken(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	s.mu.Lock()
	s.tokenForms = append(s.tokenForms, r.PostForm)
	s.tokenAuth = append(s.tokenAuth, r.Header.Get("Authorization"))
	secret, ttl, delay := s.secret, s.expiresIn, s.tokenDelay
	s.mu.Unlock()
	time.Sleep(delay) // a slow token endpoint, so concurrent callers overlap
	w.Header().Set("Content-Type", "application/json")
	if r.PostForm.Get("grant_type") != "client_credentials" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"unsupported_grant_type"}`))
		return
	}
	if got := r.PostForm.Get("client_secret"); r.PostForm.Get("client_id") != stubClientID || got != secret {
		w.WriteHeader(http.StatusUnauthorized)
		// A hostile endpoint echoing the secret it was sent.
		fmt.Fprintf(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided: %s"}`, got)
		return
	}
	s.mu.Lock()
	tok := fmt.Sprintf("eyJ0eXAi.tok-%d.SiGnAtUrE", len(s.tokens)+1)
	s.tokens = append(s.tokens, tok)
	s.mu.Unlock()
	fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":%d,"ext_expires_in":0,"access_token":%q}`, ttl, tok)
}

func (s *stubAPI) serveAPI(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, stubReq{at: time.Now(), path: r.URL.EscapedPath(), auth: r.Header.Get("Authorization")})
	n := len(s.reqs)
	s.mu.Unlock()
	s.handle(s, w, r, n)
}

// mark notes the current time (a handler calls it just before answering).
func (s *stubAPI) mark() {
	s.mu.Lock()
	s.marks = append(s.marks, time.Now())
	s.mu.Unlock()
}

// validToken reports whether r carries the most recently issued token.
func (s *stubAPI) validToken(r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens) > 0 && r.Header.Get("Authorization") == "Bearer "+s.tokens[len(s.tokens)-1]
}

func (s *stubAPI) marked() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.marks...)
}

func (s *stubAPI) setSecret(v string) {
	s.mu.Lock()
	s.secret = v
	s.mu.Unlock()
}

func (s *stubAPI) tokenCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokenForms)
}

func (s *stubAPI) apiCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

func (s *stubAPI) requests() []stubReq {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]stubReq(nil), s.reqs...)
}

func (s *stubAPI) issued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tokens...)
}

// options returns client options for the stub with short delays.
func (s *stubAPI) options() Options {
	return Options{
		BaseURL:      s.srv.URL,
		TokenURL:     s.srv.URL + "/tenant-1/oauth2/v2.0/token",
		ClientID:     stubClientID,
		ClientSecret: stubSecret,
		Timeout:      5 * time.Second,
		Attempts:     3,
		BaseDelay:    2 * time.Millisecond,
		MaxDelay:     10 * time.Millisecond,
	}
}

func (s *stubAPI) client(t *testing.T, mod func(*Options)) *Client {
	t.Helper()
	o := s.options()
	if mod != nil {
		mod(&o)
	}
	c, err := NewClient(o)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// writeUser answers 200 with the documented user entity.
func writeUser(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(stubUserJSON))
}

// writeError answers status with the documented MDE error envelope.
func writeError(w http.ResponseWriter, status int) {
	e := stubErrors[status]
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": e[0], "message": e[1], "target": stubTarget}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// userOr401 answers the user to the current token and 401 to any other.
func userOr401(s *stubAPI, w http.ResponseWriter, r *http.Request, _ int) {
	if !s.validToken(r) {
		writeError(w, http.StatusUnauthorized)
		return
	}
	writeUser(w)
}

// recLimiter is a Limiter that records its calls.
type recLimiter struct {
	mu      sync.Mutex
	waits   int
	pauses  []time.Time
	waitErr error
}

func (l *recLimiter) Wait(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.waitErr != nil {
		return l.waitErr
	}
	l.waits++
	return ctx.Err()
}

func (l *recLimiter) Pause(_ context.Context, until time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pauses = append(l.pauses, until)
	return nil
}

func (l *recLimiter) counts() (int, []time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waits, append([]time.Time(nil), l.pauses...)
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
