package enrich

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestGetUserBadResponseNeverReturned(t *testing.T) {
	t.Parallel()
	big := `{"id":"x","pad":"` + strings.Repeat("a", MaxUserBytes) + `"}`
	for name, body := range map[string]string{
		"not json":      `<html>gateway</html>`,
		"empty":         ``,
		"array":         `[{"id":"x"}]`,
		"string":        `"x"`,
		"null":          `null`,
		"no id":         `{"accountName":"user1"}`,
		"numeric id":    `{"id":42}`,
		"null id":       `{"id":null}`,
		"odata only":    `{"@odata.context":"x"}`,
		"trailing data": `{"id":"x"} {"id":"y"}`,
		"truncated":     `{"id":"x",`,
		"duplicate id":  `{"id":"x","id":"y"}`,
		"invalid utf-8": "{\"id\":\"\xff\"}",
		"over 64 KiB":   big,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t, func(_ *stubAPI, w http.ResponseWriter, _ *http.Request, _ int) {
				_, _ = w.Write([]byte(body))
			})
			res, err := s.client(t, nil).GetUser(context.Background(), stubAlertID)
			if !errors.Is(err, ErrRejected) || !errors.Is(err, ErrBadResponse) || errors.Is(err, ErrTransient) {
				t.Fatalf("got %v, want rejected bad response, not transient", err)
			}
			if res.User != nil || res.Found {
				t.Errorf("got user %s, want none", res.User)
			}
			if n := s.apiCount(); n != 3 || res.Attempts != 3 {
				t.Errorf("got %d requests, %d attempts, want 3 (retried while attempts remain)", n, res.Attempts)
			}
		})
	}
}

func TestGetUserBadResponseThenGood(t *testing.T) {
	t.Parallel()
	s := newStub(t, func(_ *stubAPI, w http.ResponseWriter, _ *http.Request, n int) {
		if n == 1 {
			_, _ = w.Write([]byte(`{"truncated":`))
			return
		}
		writeUser(w)
	})
	res, err := s.client(t, nil).GetUser(context.Background(), stubAlertID)
	if err != nil || !res.Found || res.Attempts != 2 {
		t.Fatalf("got %+v, %v; want found on the second attempt", res, err)
	}
}

func TestParseUser(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{stubUserJSON, stubUserCompact},
		{` {"b":1, "id" : "x", "a":[1, 2], "@odata.context":"c"} `, `{"b":1,"id":"x","a":[1,2]}`},
		{`{"id":"a<b>&c","nested":{"@odata.context":"kept"}}`, `{"id":"a<b>&c","nested":{"@odata.context":"kept"}}`},
		{`{"id":"","k\u00e9y":"\u00e9"}`, `{"id":"","kéy":"\u00e9"}`},
	} {
		got, err := parseUser([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("parseUser(%s): got %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	if _, err := parseUser([]byte(`{"id":"x","pad":"` + strings.Repeat("a", MaxUserBytes) + `"}`)); !errors.Is(err, ErrBadResponse) {
		t.Errorf("parseUser(over 64 KiB): got %v, want ErrBadResponse", err)
	}
}
