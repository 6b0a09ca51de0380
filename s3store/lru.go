package s3store

import (
	"container/list"
	"sync"
)

// lru is a map bounded by the total weight of its values, which drops the
// least recently used entries to stay within it. It is safe for concurrent
// use.
//
// If onDrop is set, every value put is passed to it exactly once, under the
// map's lock, when the map lets it go: dropped, replaced, evicted, or
// refused for its weight.
type lru[V any] struct {
	mu     sync.Mutex
	max    int64
	weight int64
	order  *list.List // of *lruEntry[V], most recent first
	items  map[string]*list.Element
	onDrop func(V)
}

type lruEntry[V any] struct {
	key    string
	v      V
	weight int64
}

func newLRU[V any](max int64) *lru[V] {
	return &lru[V]{max: max, order: list.New(), items: map[string]*list.Element{}}
}

// get returns the value of key and marks it used.
func (c *lru[V]) get(key string) (V, bool) {
	return c.getIf(key, nil)
}

// getIf is get, but if ok is not nil the value is returned, and marked
// used, only if ok, called under the map's lock, accepts it.
func (c *lru[V]) getIf(key string, ok func(V) bool) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	e, found := c.items[key]
	if !found {
		return zero, false
	}
	v := e.Value.(*lruEntry[V]).v
	if ok != nil && !ok(v) {
		return zero, false
	}
	c.order.MoveToFront(e)
	return v, true
}

// put sets key to v of the given weight; a value heavier than the whole
// bound is not kept.
func (c *lru[V]) put(key string, v V, weight int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(key)
	if weight > c.max {
		if c.onDrop != nil {
			c.onDrop(v)
		}
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry[V]{key: key, v: v, weight: weight})
	c.weight += weight
	for c.weight > c.max {
		c.dropLocked(c.order.Back().Value.(*lruEntry[V]).key)
	}
}

// drop forgets keys.
func (c *lru[V]) drop(keys ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		c.dropLocked(k)
	}
}

func (c *lru[V]) dropLocked(key string) {
	if e, ok := c.items[key]; ok {
		ent := e.Value.(*lruEntry[V])
		c.weight -= ent.weight
		c.order.Remove(e)
		delete(c.items, key)
		if c.onDrop != nil {
			c.onDrop(ent.v)
		}
	}
}
