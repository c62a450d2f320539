package sim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// token is what the server remembers of an issued access token.
type token struct {
	clientID string
	expires  time.Time
	revoked  bool // set by ExpireTokens
}

// maxFormBytes bounds a token request body.
const maxFormBytes = 64 << 10

// pruneTokensAt is the number of stored tokens above which expired ones are
// dropped when a new one is issued.
const pruneTokensAt = 4096

// tokenResponse is the JSON of a successful token request.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	Resource     string `json:"resource,omitempty"` // legacy v1 endpoint only
}

// serveToken answers POST /{tenant}/oauth2/v2.0/token, or the legacy
// /{tenant}/oauth2/token when v1.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, v1 bool) {
	s.mu.Lock()
	s.stats.tokens++
	s.mu.Unlock()
	s.tokenResponse(w, r, v1).write(w)
}

func (s *Server) tokenResponse(w http.ResponseWriter, r *http.Request, v1 bool) response {
	if r.Method != http.MethodPost {
		resp := oauthError(http.StatusMethodNotAllowed, "invalid_request", "The token endpoint accepts only POST requests.")
		resp.header.Set("Allow", http.MethodPost)
		return resp
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return oauthError(http.StatusBadRequest, "invalid_request", "The request body must be application/x-www-form-urlencoded.")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return oauthError(http.StatusBadRequest, "invalid_request", "The request body could not be parsed as a form.")
	}
	form := r.PostForm
	switch grant := form.Get("grant_type"); {
	case grant == "":
		return oauthError(http.StatusBadRequest, "invalid_request", "The request body must contain the parameter 'grant_type'.")
	case grant != "client_credentials":
		return oauthError(http.StatusBadRequest, "unsupported_grant_type", "Only the client_credentials grant is supported.")
	}
	id, secret, ok := clientCredentials(r)
	if !ok {
		return oauthError(http.StatusBadRequest, "invalid_request", "The client credentials could not be read.")
	}
	if id == "" {
		return oauthError(http.StatusBadRequest, "invalid_request", "The request body must contain the parameter 'client_id'.")
	}
	if !s.validClient(id, secret) {
		return oauthError(http.StatusUnauthorized, "invalid_client", "Invalid client secret or client identifier provided.")
	}
	var resource string
	if v1 {
		resource = form.Get("resource")
		if resource == "" {
			return oauthError(http.StatusBadRequest, "invalid_request", "The request body must contain the parameter 'resource'.")
		}
	} else {
		scope := strings.TrimSpace(form.Get("scope"))
		if scope == "" {
			return oauthError(http.StatusBadRequest, "invalid_request", "The request body must contain the parameter 'scope'.")
		}
		if strings.ContainsAny(scope, " \t") || !strings.HasSuffix(scope, "/.default") {
			return oauthError(http.StatusBadRequest, "invalid_scope", "The scope must be a single resource's '/.default' scope for the client credentials flow.")
		}
	}
	tok, ttl := s.issueToken(id)
	secs := max(int64(ttl/time.Second), 1)
	body, err := json.Marshal(tokenResponse{
		TokenType: "Bearer", ExpiresIn: secs, ExtExpiresIn: secs, AccessToken: tok, Resource: resource,
	})
	if err != nil { // cannot happen: plain values
		panic(fmt.Sprintf("sim: marshal token response: %v", err))
	}
	h := http.Header{}
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	return response{status: http.StatusOK, header: h, body: body}
}

// clientCredentials reads the client ID and secret from HTTP Basic
// authentication (client_secret_basic, values form-encoded as RFC 6749
// section 2.3.1 says) or from the form (client_secret_post). ok is false when
// the header is malformed or both forms are used with different values.
func clientCredentials(r *http.Request) (id, secret string, ok bool) {
	formID, formSecret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if r.Header.Get("Authorization") == "" {
		return formID, formSecret, true
	}
	user, pass, basic := r.BasicAuth()
	if !basic {
		return "", "", false
	}
	id, err1 := url.QueryUnescape(user)
	secret, err2 := url.QueryUnescape(pass)
	if err1 != nil || err2 != nil {
		return "", "", false
	}
	if (formID != "" && formID != id) || (formSecret != "" && formSecret != secret) {
		return "", "", false
	}
	return id, secret, true
}

// validClient checks the credentials against Options.ClientID and
// ClientSecret; when those are empty any non-empty pair is accepted.
func (s *Server) validClient(id, secret string) bool {
	if secret == "" {
		return false
	}
	okID := s.opts.ClientID == "" || subtle.ConstantTimeCompare([]byte(id), []byte(s.opts.ClientID)) == 1
	okSecret := s.opts.ClientSecret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) == 1
	return okID && okSecret
}

// issueToken stores and returns a new random access token for clientID.
func (s *Server) issueToken(clientID string) (string, time.Duration) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	if len(s.tokens) >= pruneTokensAt {
		for k, t := range s.tokens {
			if t.revoked || !now.Before(t.expires) {
				delete(s.tokens, k)
			}
		}
	}
	s.tokens[tok] = token{clientID: clientID, expires: now.Add(s.opts.TokenTTL)}
	s.stats.tokensIssued++
	return tok, s.opts.TokenTTL
}

// ExpireTokens makes every token issued so far expired: API calls bearing
// one answer 401 until the caller fetches a new token.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.tokens {
		t.revoked = true
		s.tokens[k] = t
	}
}

// authorise checks the bearer token of an API call at now. It returns the
// token's client ID, or a 401 message. Call with s.mu held.
func (s *Server) authorise(r *http.Request, now time.Time) (clientID, problem string) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", "The Authorization header is missing."
	}
	scheme, tok, _ := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", "Invalid Authorization payload."
	}
	t, ok := s.tokens[tok]
	switch {
	case !ok:
		return "", "Invalid Authorization payload."
	case t.revoked || !now.Before(t.expires):
		return "", "The access token has expired."
	}
	return t.clientID, ""
}
