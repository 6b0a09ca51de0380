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
