package enrich_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/enricher/enricher/enrich"
)

func ExampleClient_GetUser() {
	// A stand-in for the token endpoint and the Defender API.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			fmt.Fprint(w, `{"token_type":"Bearer","expires_in":3599,"access_token":"example-token"}`)
			return
		}
		fmt.Fprint(w, `{"@odata.context":"x","id":"contoso\\user1","accountName":"user1"}`)
	}))
	defer srv.Close()

	c, err := enrich.NewClient(enrich.Options{
		BaseURL:      srv.URL,
		TokenURL:     srv.URL + "/tenant/oauth2/v2.0/token", // (*config.Config).TokenURL() in production
		ClientID:     "client-id",
		ClientSecret: "client-secret",
		Attempts:     3,
		BaseDelay:    10 * time.Millisecond,
		Limiter:      enrich.NoLimit{}, // the shared quota in production
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := c.GetUser(context.Background(), "636688558380765161_2136280442")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Found, res.Attempts, string(res.User))
	// Output: true 1 {"id":"contoso\\user1","accountName":"user1"}
}
