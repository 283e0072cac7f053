package redis

// keySpace is where a store's keys live in Redis (the layout is described
// on backend): prefix is the store's own prefix, hash-tagged on a cluster,
// which the tag records, the page index and the replay memory extend.
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
