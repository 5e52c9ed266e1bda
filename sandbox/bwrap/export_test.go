package bwrap

import "github.com/gitloop-dev/git-loop/sandbox"

// CgroupDirs is where the loop named name gets its cgroups for lim, by
// controller ("pids", "memory", "cpu"), and the settings that cannot be
// enforced here.
func CgroupDirs(name string, lim sandbox.Limits) (map[string]string, []string, error) {
	hs, err := hierarchies()
	if err != nil {
		return nil, nil, err
	}
	p := planCgroup(hs, name, lim)
	return p.dirs, p.missing, nil
}
