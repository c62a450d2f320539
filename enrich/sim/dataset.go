package sim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// datasetSeed fixes the data set: the same N always gives the same alerts.
const datasetSeed uint64 = 0x0e1c_9a5e_d5e7_2026

// odataContext is the documented @odata.context of a user entity.
const odataContext = "https://api.securitycenter.windows.com/api/$metadata#Users/$entity"

// dataset is the simulator's alerts, in generation order.
type dataset struct {
	ids    []string
	noUser []bool
	index  map[string]int
}

// newDataset generates n alerts. The i-th alert depends only on i, so a
// smaller n gives a prefix of a larger one.
func newDataset(n int) *dataset {
	d := &dataset{ids: make([]string, 0, n), noUser: make([]bool, 0, n), index: make(map[string]int, n)}
	rng := rand.New(rand.NewPCG(datasetSeed, datasetSeed>>7))
	for len(d.ids) < n {
		id := alertID(rng)
		noUser := rng.IntN(10) == 0
		if _, dup := d.index[id]; dup {
			continue
		}
		d.index[id] = len(d.ids)
		d.ids = append(d.ids, id)
		d.noUser = append(d.noUser, noUser)
	}
	return d
}

// alertID draws an ID in one of the documented formats:
// da637472900382838869_1364969609, 636688558380765161_2136280442,
// da119bb773-4f15-4264-b679-ae9e2ad31aaf_1.
func alertID(rng *rand.Rand) string {
	ticks := 636_000_000_000_000_000 + rng.Int64N(3_000_000_000_000_000) // .NET ticks, 2016 to 2026
	suffix := 1_000_000_000 + rng.Int64N(1_147_483_647)                  // ten digits
	switch k := rng.IntN(10); {
	case k < 4:
		return fmt.Sprintf("da%d_%d", ticks, suffix)
	case k < 8:
		return fmt.Sprintf("%d_%d", ticks, suffix)
	default:
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return fmt.Sprintf("da%x-%x-%x-%x-%x_%d", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16], 1+rng.IntN(9))
	}
}

// userEntity is the documented user entity, fields in the documented order.
type userEntity struct {
	ODataContext            string `json:"@odata.context"`
	ID                      string `json:"id"`
	AccountName             string `json:"accountName"`
	AccountDomain           string `json:"accountDomain"`
	AccountSid              string `json:"accountSid"`
	FirstSeen               string `json:"firstSeen"`
	LastSeen                string `json:"lastSeen"`
	MostPrevalentMachineID  string `json:"mostPrevalentMachineId"`
	LeastPrevalentMachineID string `json:"leastPrevalentMachineId"`
	LogonTypes              string `json:"logonTypes"`
	LogOnMachinesCount      int    `json:"logOnMachinesCount"`
	IsDomainAdmin           bool   `json:"isDomainAdmin"`
	IsOnlyNetworkUser       bool   `json:"isOnlyNetworkUser"`
}

// user builds the entity of alert idx, from a generator seeded by idx.
func (d *dataset) user(idx int) userEntity {
	domainNames := [...]string{"contoso", "fabrikam", "woodgrove", "tailspin", "northwind"}
	domainSIDs := [...][3]uint32{ // S-1-5-21-a-b-c-rid
		{72051607, 1745760036, 109187956},
		{1004336348, 1177238915, 682003330},
		{3623811015, 3361044348, 30300820},
		{2147483647, 1837194452, 917845573},
		{4100284318, 2045823411, 1456789012},
	}
	logonTypes := [...]string{"Network", "Interactive", "RemoteInteractive", "Interactive, Network", "Batch", "Service"}
	rng := rand.New(rand.NewPCG(datasetSeed^uint64(idx+1)*0x9e3779b97f4a7c15, uint64(idx)))
	dom := rng.IntN(len(domainNames))
	n := 1 + rng.IntN(500)
	name := fmt.Sprintf("user%d", n)
	sid := domainSIDs[dom]
	first := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(6 * 365 * 24 * time.Hour)))).Truncate(time.Second)
	last := first.Add(time.Hour + time.Duration(rng.Int64N(int64(90*24*time.Hour)))).Truncate(time.Second)
	count := 1 + rng.IntN(12)
	most := machineID(rng)
	least := most
	if count > 1 {
		least = machineID(rng)
	}
	logon := logonTypes[rng.IntN(len(logonTypes))]
	return userEntity{
		ODataContext:            odataContext,
		ID:                      domainNames[dom] + `\` + name,
		AccountName:             name,
		AccountDomain:           domainNames[dom],
		AccountSid:              fmt.Sprintf("S-1-5-21-%d-%d-%d-%d", sid[0], sid[1], sid[2], 90000+n),
		FirstSeen:               first.Format(time.RFC3339),
		LastSeen:                last.Format(time.RFC3339),
		MostPrevalentMachineID:  most,
		LeastPrevalentMachineID: least,
		LogonTypes:              logon,
		LogOnMachinesCount:      count,
		IsDomainAdmin:           rng.IntN(12) == 0,
		IsOnlyNetworkUser:       logon == "Network",
	}
}

// machineID draws a 40-hex-digit machine ID.
func machineID(rng *rand.Rand) string {
	return fmt.Sprintf("%016x%016x%08x", rng.Uint64(), rng.Uint64(), rng.Uint32())
}

// userJSON is the body served for alert idx.
func (d *dataset) userJSON(idx int) []byte { return mustJSON(d.user(idx)) }

// AlertIDs returns the first n alert IDs of the data set, in order; n < 0 or
// n beyond the data set means all of them.
func (s *Server) AlertIDs(n int) []string {
	if n < 0 || n > len(s.data.ids) {
		n = len(s.data.ids)
	}
	out := make([]string, n)
	copy(out, s.data.ids)
	return out
}

// HasUser reports whether id is an alert of the data set that has a user
// (the API answers 200 for it rather than 404).
func (s *Server) HasUser(id string) bool {
	idx, ok := s.data.index[id]
	return ok && !s.data.noUser[idx]
}

// User returns the user entity served for id, decoded from JSON as a client
// would (numbers are float64), @odata.context included; nil when id is
// unknown or has no user.
func (s *Server) User(id string) map[string]any {
	if !s.HasUser(id) {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(s.data.userJSON(s.data.index[id]), &m); err != nil {
		panic(fmt.Sprintf("sim: decode own user entity: %v", err))
	}
	return m
}
