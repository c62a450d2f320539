package config

import (
	"strings"
	"testing"
)

func TestLimitOverQuotaMaximumIsAConfigError(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Quota.Limits = []Limit{{Calls: MaxLimitCalls + 1, Window: 1e9}}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "over the quota's maximum") {
		t.Fatalf("Validate() = %v, want an error about the maximum", err)
	}
	c.Quota.Limits = []Limit{{Calls: MaxLimitCalls, Window: 1e9}}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() with %d calls = %v, want nil", MaxLimitCalls, err)
	}
}
