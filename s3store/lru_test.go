package s3store

import "testing"

func TestLRUDropsLeastRecentlyUsedByWeight(t *testing.T) {
	c := newLRU[int](10)
	c.put("a", 1, 4)
	c.put("b", 2, 4)
	if _, ok := c.get("a"); !ok { // a is now the most recent
		t.Fatal("a missing")
	}
	c.put("c", 3, 4) // 12 > 10: b goes
	if _, ok := c.get("b"); ok {
		t.Error("b should have been dropped")
	}
	for _, k := range []string{"a", "c"} {
		if _, ok := c.get(k); !ok {
			t.Errorf("%s missing", k)
		}
	}
	c.put("a", 9, 6) // replacing adjusts the weight: 6 + 4
	if v, _ := c.get("a"); v != 9 || c.weight != 10 {
		t.Errorf("a = %d, weight %d", v, c.weight)
	}
	c.put("huge", 0, 11)
	if _, ok := c.get("huge"); ok || c.weight != 10 {
		t.Errorf("a value heavier than the bound is not kept (weight %d)", c.weight)
	}
	c.drop("a", "c", "nope")
	if c.weight != 0 || c.order.Len() != 0 {
		t.Errorf("after drop: weight %d, %d entries", c.weight, c.order.Len())
	}
}

// TestLRUOnDrop: every value put reaches onDrop exactly once, whether it is
// dropped, replaced, evicted or refused, and none is passed while kept.
func TestLRUOnDrop(t *testing.T) {
	c := newLRU[int](10)
	dropped := map[int]int{}
	c.onDrop = func(v int) { dropped[v]++ }
	c.put("a", 1, 4)
	c.put("b", 2, 4)
	c.put("a", 3, 4) // replaces 1
	c.put("c", 4, 4) // evicts b (2)
	c.put("d", 5, 11)
	c.drop("c")
	want := map[int]int{1: 1, 2: 1, 5: 1, 4: 1}
	if len(dropped) != len(want) {
		t.Fatalf("dropped %v, want %v", dropped, want)
	}
	for v, n := range want {
		if dropped[v] != n {
			t.Errorf("value %d dropped %d times, want %d", v, dropped[v], n)
		}
	}
	if _, ok := c.getIf("a", func(v int) bool { return v == 1 }); ok {
		t.Error("getIf accepted a value its check refused")
	}
	if v, ok := c.getIf("a", func(v int) bool { return v == 3 }); !ok || v != 3 {
		t.Errorf("getIf = %d, %v; want 3, true", v, ok)
	}
}
