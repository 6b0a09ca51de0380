package s3store

import (
	"container/list"
	"sync"
)

// lru is a map bounded by the total weight of its values, which drops the
// least recently used entries to stay within it. It is safe for concurrent
// use.
type lru[V any] struct {
	mu     sync.Mutex
	max    int64
	weight int64
	order  *list.List // of *lruEntry[V], most recent first
	items  map[string]*list.Element
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
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry[V]).v, true
}

// put sets key to v of the given weight; a value heavier than the whole
// bound is not kept.
func (c *lru[V]) put(key string, v V, weight int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(key)
	if weight > c.max {
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
		c.weight -= e.Value.(*lruEntry[V]).weight
		c.order.Remove(e)
		delete(c.items, key)
	}
}
