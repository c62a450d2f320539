package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/enricher/enricher/config"
)

// TestConcurrentCallers hammers one server from many goroutines (run with
// -race): the limiter stays exact, and every call is counted once.
func TestConcurrentCallers(t *testing.T) {
	t.Parallel()
	const workers, calls = 16, 40
	s, ts := start(t, Options{
		Limits:   []config.Limit{{Calls: 100, Window: time.Hour}},
		FailRate: 0.1, BadResponseRate: 0.1, LatencyJitter: time.Millisecond,
		Fault: func(string, int) *Fault { return nil },
	})
	ids := s.AlertIDs(50)
	var wg sync.WaitGroup
	errs := make(chan error, workers*calls)
	for w := range workers {
		wg.Go(func() {
			tok, err := fetchToken(ts.URL, fmt.Sprint("client-", w%2)) // two clients
			if err != nil {
				errs <- err
				return
			}
			for i := range calls {
				status, err := callUser(ts.URL, tok, ids[(w*calls+i)%len(ids)])
				if err != nil {
					errs <- err
					return
				}
				switch status {
				case 200, 404, 429, 503:
				default:
					errs <- fmt.Errorf("worker %d call %d: status %d", w, i, status)
				}
				if i%10 == 0 {
					_ = s.Stats()
					_ = s.Requests()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := s.Stats()
	if st.Requests != workers*calls || len(s.Requests()) != workers*calls {
		t.Errorf("%d requests counted, %d logged, want %d", st.Requests, len(s.Requests()), workers*calls)
	}
	admitted := st.Requests - st.ByStatus[http.StatusTooManyRequests]
	if admitted != 200 { // two clients, 100 each in the hour
		t.Errorf("%d calls admitted, want exactly 200 (%v)", admitted, st.ByStatus)
	}
	perClient := map[string]int{}
	for _, r := range s.Requests() {
		if r.Status != http.StatusTooManyRequests {
			perClient[r.ClientID]++
		}
	}
	if perClient["client-0"] != 100 || perClient["client-1"] != 100 {
		t.Errorf("admitted per client %v, want 100 each", perClient)
	}
	if st.Limits[0].MaxInWindow != workers*calls || st.Limits[0].MaxAdmittedInWindow != 200 {
		t.Errorf("limit stats %+v", st.Limits[0])
	}
}

// fetchToken and callUser are helpers safe off the test goroutine.
func fetchToken(base, client string) (string, error) {
	resp, err := http.PostForm(base+"/t/oauth2/v2.0/token", tokenForm(client, "s"))
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("token: status %d: %v", resp.StatusCode, err)
	}
	return tr.AccessToken, nil
}

func callUser(base, tok, id string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, base+"/api/alerts/"+id+"/user", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("call %s: %w", id, err)
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}
