package sim_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/enricher/enricher/config"
	"github.com/enricher/enricher/enrich/sim"
)

// Example mounts the simulator in httptest, fetches a token and asks for the
// user of the first alert of the data set.
func Example() {
	s := sim.New(sim.Options{
		Alerts: 10,
		Limits: []config.Limit{{Calls: 100, Window: time.Minute}},
	})
	ts := httptest.NewServer(s)
	defer ts.Close()

	resp, err := http.PostForm(ts.URL+"/my-tenant/oauth2/v2.0/token", url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {"app"},
		"client_secret": {"secret"},
		"scope":         {"https://api.securitycenter.microsoft.com/.default"},
	})
	if err != nil {
		panic(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()

	id := s.AlertIDs(1)[0]
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/alerts/"+id+"/user", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	var user map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&user)
	resp.Body.Close()

	fmt.Println("token expires in", tok.ExpiresIn)
	fmt.Println(resp.StatusCode, id, user["id"])
	fmt.Println(s.Stats().Limits[0].Limit, s.Stats().ByStatus[200])
	// Output:
	// token expires in 3599
	// 200 da638991769292076187_1021152371 fabrikam\user474
	// 100/1m 1
}

// ExampleRegisterFlags shows how `enricher sim` builds its options.
func ExampleRegisterFlags() {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	listen := fs.String("listen", sim.DefaultListen, "address to listen on")
	opts := sim.RegisterFlags(fs)
	if err := fs.Parse([]string{"-alerts", "50", "-limits", "20/1s", "-fail-rate", "0.1"}); err != nil {
		panic(err)
	}
	fmt.Println(*listen, opts.Alerts, sim.FormatLimit(opts.Limits[0]), opts.FailRate)
	// The caller then runs: sim.Run(ctx, *listen, *opts, logger)
	// Output: 127.0.0.1:8089 50 20/1s 0.1
}
