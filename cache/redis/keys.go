package redis

type keySpace struct {
	prefix, clock, epoch, feed, entries string
}

// newKeySpace lays out a store's keys; on a cluster the store name is the
// hash tag of every tag-clock key.
func newKeySpace(prefix, store string, cluster bool) keySpace {
	slot := store
	if cluster {
		slot = "{" + store + "}"
	}
	p := prefix + slot + ":"
	return keySpace{prefix: p, clock: p + "clock", epoch: p + "epoch", feed: p + "feed", entries: prefix + store + ":e:"}
}

// tag returns the key of a tag's hard ("h") or soft ("s") record.
func (k keySpace) tag(letter, tag string) string { return k.prefix + letter + ":" + tag }
