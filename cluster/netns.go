package cluster

import "github.com/vishvananda/netns"

func netnsFromPath(path string) (netns.NsHandle, error) { return netns.GetFromPath(path) }
