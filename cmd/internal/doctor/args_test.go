package doctor_test

import (
	"testing"

	"github.com/gitloop-dev/git-loop/cmd/cmdtest"
	"github.com/gitloop-dev/git-loop/cmd/internal/doctor"
)

func TestNewCmdDoctor(t *testing.T) {
	type O = doctor.DoctorOptions
	cmdtest.TestArgs(t, doctor.NewCmdDoctor, func(o *O) { o.IO, o.Factory = nil, nil }, []cmdtest.ArgsCase[O]{
		{Name: "check", Want: O{}},
		{Name: "fix json", Args: []string{"--fix", "--json"}, Want: O{Fix: true, JSON: true}},
		{Name: "an argument", Args: []string{"x"}, WantErr: `unknown command "x"`},
	})
}
