package zonalshift_test

import (
	"fmt"
	"time"

	"github.com/azlens/azlens/emulator/zonalshift"
	"github.com/azlens/azlens/internal/clock/clocktest"
)

// A router asks Weights for each invocation (or caches the answer and asks again when Subscribe
// signals a change) and spreads traffic in proportion to the weights.
func ExampleService_Weights() {
	clk := clocktest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	svc := zonalshift.New(zonalshift.Config{Clock: clk})
	defer svc.Close()
	changes, stop := svc.Subscribe()
	defer stop()

	zones := []string{"use1-az1", "use1-az2", "use1-az4"}
	z, _ := svc.Start(zonalshift.StartRequest{
		ResourceIdentifier: "checkout", AwayFrom: "use1-az2", ExpiresIn: "1m", Type: zonalshift.TypeAutomatic,
	})
	<-changes
	fmt.Println(svc.Weights("checkout", zones))

	w := 0.25 // staged fail-back
	_, _ = svc.Update(z.ZonalShiftID, zonalshift.UpdateRequest{FailbackWeight: &w})
	<-changes
	fmt.Println(svc.Weights("checkout", zones))

	clk.Advance(time.Minute) // the lease lapses
	<-changes
	fmt.Println(svc.Weights("checkout", zones))
	// Output:
	// map[use1-az1:1 use1-az2:0 use1-az4:1]
	// map[use1-az1:1 use1-az2:0.25 use1-az4:1]
	// map[use1-az1:1 use1-az2:1 use1-az4:1]
}
