package leakscan

import (
	"testing"

	"github.com/gitloop-dev/git-loop/gitloop/gittest"
)

func TestMain(m *testing.M) { gittest.Main(m, nil) }
