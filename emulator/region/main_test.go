package region

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/azlens/azlens/emulator"
)

func TestMain(m *testing.M) {
	emulator.MaybeRunHolder() // this binary is also the user-namespace holder of isolated environments
	goleak.VerifyTestMain(m)
}
