package regiontest

import (
	"context"
	"encoding/json"
	"testing"

	"go.uber.org/goleak"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/emulator/region"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A started region answers in every zone; its shutdown at cleanup leaves no goroutine behind
// (TestMain's goleak).
func TestStartInvokesInEveryZone(t *testing.T) {
	zones := []string{"use1-az1", "use1-az2"}
	r := Start(t, region.Config{
		Zones: zones,
		Function: emulator.Function{Name: "echo", Runtime: &emulator.InProcessRuntime{
			Handler: func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil }}},
	})
	for _, z := range zones {
		inv, err := r.Invoke(context.Background(), &emulator.InvokeRequest{Payload: []byte(`"` + z + `"`)}, region.InvokeOptions{Zone: z})
		if err != nil {
			t.Fatalf("invoke in %s: %v", z, err)
		}
		if inv.Zone != z || string(inv.Payload) != `"`+z+`"` {
			t.Fatalf("invoke in %s: zone %s, payload %s", z, inv.Zone, inv.Payload)
		}
	}
}
