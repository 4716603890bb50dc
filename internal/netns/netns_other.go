//go:build !linux

package netns

import "errors"

var errUnsupported = errors.New("netns: network namespaces need Linux")

func reexec() (int, error) { return 0, errUnsupported }

func loopbackUp() error { return errUnsupported }
