package sandboxtest

import (
	"context"
	"errors"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// Fake is a sandbox.Engine whose every method calls the func field of the
// same name. A field left nil makes its method return an error saying so,
// never panic, so a test fakes only the calls it means to reach.
type Fake struct {
	NameFunc   func() string
	EnsureFunc func(ctx context.Context, spec sandbox.Spec) (sandbox.Status, error)
	ExecFunc   func(ctx context.Context, spec sandbox.Spec, x sandbox.Exec) (int, error)
	StopFunc   func(ctx context.Context, spec sandbox.Spec) error
	RemoveFunc func(ctx context.Context, spec sandbox.Spec) error
	StatusFunc func(ctx context.Context, spec sandbox.Spec) (sandbox.Status, error)
	ListFunc   func(ctx context.Context, labels map[string]string) ([]sandbox.Status, error)
	// Caps is what Capabilities returns.
	Caps sandbox.Capabilities
}

var _ sandbox.Engine = (*Fake)(nil)

// Name is "fake" unless NameFunc says otherwise.
func (f *Fake) Name() string {
	if f.NameFunc == nil {
		return "fake"
	}
	return f.NameFunc()
}

func (f *Fake) Ensure(ctx context.Context, spec sandbox.Spec) (sandbox.Status, error) {
	if f.EnsureFunc == nil {
		return sandbox.Status{}, errors.New("fake: Ensure not set")
	}
	return f.EnsureFunc(ctx, spec)
}

func (f *Fake) Exec(ctx context.Context, spec sandbox.Spec, x sandbox.Exec) (int, error) {
	if f.ExecFunc == nil {
		return 127, errors.New("fake: Exec not set")
	}
	return f.ExecFunc(ctx, spec, x)
}

func (f *Fake) Stop(ctx context.Context, spec sandbox.Spec) error {
	if f.StopFunc == nil {
		return errors.New("fake: Stop not set")
	}
	return f.StopFunc(ctx, spec)
}

func (f *Fake) Remove(ctx context.Context, spec sandbox.Spec) error {
	if f.RemoveFunc == nil {
		return errors.New("fake: Remove not set")
	}
	return f.RemoveFunc(ctx, spec)
}

func (f *Fake) Status(ctx context.Context, spec sandbox.Spec) (sandbox.Status, error) {
	if f.StatusFunc == nil {
		return sandbox.Status{}, errors.New("fake: Status not set")
	}
	return f.StatusFunc(ctx, spec)
}

func (f *Fake) List(ctx context.Context, labels map[string]string) ([]sandbox.Status, error) {
	if f.ListFunc == nil {
		return nil, errors.New("fake: List not set")
	}
	return f.ListFunc(ctx, labels)
}

func (f *Fake) Capabilities() sandbox.Capabilities { return f.Caps }
