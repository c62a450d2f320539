package sim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func TestTokenIssued(t *testing.T) {
	t.Parallel()
	s, ts := start(t, Options{})
	r := postForm(t, ts, "/tenant-1/oauth2/v2.0/token", tokenForm("app", "secret"))
	if r.status != http.StatusOK {
		t.Fatalf("status = %d, want 200 (body %s)", r.status, r.body)
	}
	var got map[string]any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if got["token_type"] != "Bearer" || got["expires_in"] != 3599.0 || got["ext_expires_in"] != 3599.0 {
		t.Errorf("body = %s, want Bearer, expires_in 3599, ext_expires_in 3599", r.body)
	}
	tok1, _ := got["access_token"].(string)
	if len(tok1) < 32 {
		t.Errorf("access_token %q is too short to be random", tok1)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if tok2 := getToken(t, ts, "app", "secret"); tok2 == tok1 {
		t.Error("two token requests gave the same token")
	}
	if st := s.Stats(); st.Tokens != 2 || st.TokensIssued != 2 || st.Requests != 0 {
		t.Errorf("stats = %+v, want 2 token requests, 2 issued, 0 API requests", st)
	}
}

func TestTokenLegacyV1(t *testing.T) {
	t.Parallel()
	_, ts := start(t, Options{})
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"s"},
		"resource": {"https://api.securitycenter.microsoft.com"}}
	r := postForm(t, ts, "/tenant-1/oauth2/token", form)
	var tr tokenResponse
	if err := json.Unmarshal(r.body, &tr); err != nil || r.status != http.StatusOK || tr.AccessToken == "" {
		t.Fatalf("status %d body %s (%v), want 200 with a token", r.status, r.body, err)
	}
	if u := getUser(t, ts, tr.AccessToken, "nope"); u.status != http.StatusNotFound {
		t.Errorf("the v1 token was not accepted by the API: status %d", u.status)
	}
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	const v2 = "/tenant-1/oauth2/v2.0/token"
	with := func(change func(url.Values)) url.Values {
		f := tokenForm("app", "secret")
		change(f)
		return f
	}
	tests := []struct {
		name       string
		opts       Options
		path, ct   string
		form       url.Values
		wantStatus int
		wantError  string
	}{
		{"json body", Options{}, v2, "application/json", tokenForm("app", "s"), 400, "invalid_request"},
		{"no grant", Options{}, v2, "", with(func(f url.Values) { f.Del("grant_type") }), 400, "invalid_request"},
		{"password grant", Options{}, v2, "", with(func(f url.Values) { f.Set("grant_type", "password") }), 400, "unsupported_grant_type"},
		{"no client id", Options{}, v2, "", with(func(f url.Values) { f.Del("client_id") }), 400, "invalid_request"},
		{"no scope", Options{}, v2, "", with(func(f url.Values) { f.Del("scope") }), 400, "invalid_request"},
		{"bad scope", Options{}, v2, "", with(func(f url.Values) { f.Set("scope", "User.Read") }), 400, "invalid_scope"},
		{"v1 no resource", Options{}, "/t/oauth2/token", "", tokenForm("app", "s"), 400, "invalid_request"},
		{"empty secret", Options{}, v2, "", with(func(f url.Values) { f.Del("client_secret") }), 401, "invalid_client"},
		{"wrong secret", Options{ClientID: "app", ClientSecret: "right"}, v2, "", tokenForm("app", "wrong"), 401, "invalid_client"},
		{"wrong client", Options{ClientID: "app", ClientSecret: "right"}, v2, "", tokenForm("other", "right"), 401, "invalid_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, ts := start(t, tc.opts)
			req := newRequest(t, http.MethodPost, ts.URL+tc.path, strings.NewReader(tc.form.Encode()))
			ct := tc.ct
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			req.Header.Set("Content-Type", ct)
			r := do(t, req)
			checkOAuthError(t, r, tc.wantStatus, tc.wantError)
			if st := s.Stats(); st.Tokens != 1 || st.TokensIssued != 0 {
				t.Errorf("stats = %+v, want 1 token request and none issued", st)
			}
		})
	}
	t.Run("GET", func(t *testing.T) {
		t.Parallel()
		_, ts := start(t, Options{})
		r := do(t, newRequest(t, http.MethodGet, ts.URL+v2, nil))
		checkOAuthError(t, r, http.StatusMethodNotAllowed, "invalid_request")
		if a := r.header.Get("Allow"); a != http.MethodPost {
			t.Errorf("Allow = %q, want POST", a)
		}
	})
}

func checkOAuthError(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Token       string `json:"access_token"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("body %s is not JSON: %v", r.body, err)
	}
	if body.Error != code || body.Description == "" || body.Token != "" {
		t.Errorf("body = %s, want error %q with a description and no token", r.body, code)
	}
}

// TestTokenWithOAuth2Library proves the golang.org/x/oauth2 client, which
// tries HTTP Basic authentication first, gets a token at the first request
// and is refused with the wrong secret.
func TestTokenWithOAuth2Library(t *testing.T) {
	t.Parallel()
	s, ts := start(t, Options{ClientID: "app id", ClientSecret: "s3cr&t"})
	cfg := clientcredentials.Config{
		ClientID: "app id", ClientSecret: "s3cr&t", TokenURL: ts.URL + "/tenant-1/oauth2/v2.0/token",
		Scopes: []string{"https://api.securitycenter.microsoft.com/.default"},
	}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if !tok.Valid() || tok.Expiry.Before(time.Now().Add(3500*time.Second)) {
		t.Errorf("token valid=%v expiry=%v, want valid for about 3599 s", tok.Valid(), tok.Expiry)
	}
	if st := s.Stats(); st.Tokens != 1 {
		t.Errorf("token requests = %d, want 1 (Basic auth accepted at once)", st.Tokens)
	}
	client := cfg.Client(context.Background())
	resp, err := client.Get(ts.URL + "/api/alerts/" + firstWithUser(t, s) + "/user")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("API status with the library's token = %d, want 200", resp.StatusCode)
	}

	cfg.ClientSecret = "wrong"
	_, err = cfg.Token(context.Background())
	var rerr *oauth2.RetrieveError
	if !errors.As(err, &rerr) || rerr.ErrorCode != "invalid_client" || rerr.Response.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong secret: err = %v, want a 401 invalid_client RetrieveError", err)
	}
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, ts := start(t, Options{TokenTTL: 10 * time.Second, Now: clock.Now})
	r := postForm(t, ts, "/tenant-1/oauth2/v2.0/token", tokenForm("app", "s"))
	var tr tokenResponse
	if err := json.Unmarshal(r.body, &tr); err != nil || tr.ExpiresIn != 10 || tr.ExtExpiresIn != 10 {
		t.Fatalf("body %s (%v), want expires_in 10", r.body, err)
	}
	id := firstWithUser(t, s)
	clock.Advance(9999 * time.Millisecond)
	if u := getUser(t, ts, tr.AccessToken, id); u.status != http.StatusOK {
		t.Fatalf("just before expiry: status %d, want 200", u.status)
	}
	clock.Advance(time.Millisecond)
	checkEnvelope(t, getUser(t, ts, tr.AccessToken, id), http.StatusUnauthorized, "Unauthorized")
	if u := getUser(t, ts, getToken(t, ts, "app", "s"), id); u.status != http.StatusOK {
		t.Errorf("fresh token after expiry: status %d, want 200", u.status)
	}
}

func TestTokenShortTTLStillAdvertisesOneSecond(t *testing.T) {
	t.Parallel()
	_, ts := start(t, Options{TokenTTL: 300 * time.Millisecond})
	r := postForm(t, ts, "/tenant-1/oauth2/v2.0/token", tokenForm("app", "s"))
	var tr tokenResponse
	if err := json.Unmarshal(r.body, &tr); err != nil || tr.ExpiresIn != 1 {
		t.Errorf("body %s (%v), want expires_in 1 (0 would mean no expiry to oauth2 clients)", r.body, err)
	}
}

func TestExpireTokens(t *testing.T) {
	t.Parallel()
	s, ts := start(t, Options{})
	id := firstWithUser(t, s)
	tok := getToken(t, ts, "app", "s")
	if u := getUser(t, ts, tok, id); u.status != http.StatusOK {
		t.Fatalf("before ExpireTokens: status %d", u.status)
	}
	s.ExpireTokens()
	e := checkEnvelope(t, getUser(t, ts, tok, id), http.StatusUnauthorized, "Unauthorized")
	if strings.Contains(e.Message, tok) {
		t.Error("the 401 message contains the token")
	}
	if u := getUser(t, ts, getToken(t, ts, "app", "s"), id); u.status != http.StatusOK {
		t.Errorf("new token after ExpireTokens: status %d, want 200", u.status)
	}
}

// TestTokenStoreIsPruned: expired tokens do not pile up.
func TestTokenStoreIsPruned(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := New(Options{TokenTTL: time.Second, Now: clock.Now})
	for range pruneTokensAt {
		s.issueToken("app")
	}
	clock.Advance(time.Second)
	live, _ := s.issueToken("app")
	s.issueToken("app")
	s.mu.Lock()
	n := len(s.tokens)
	_, kept := s.tokens[live]
	s.mu.Unlock()
	if n != 2 || !kept {
		t.Errorf("%d tokens kept (live one kept: %v), want the 2 unexpired ones", n, kept)
	}
}
