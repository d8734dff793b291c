// tests/integration/verdicts/gomutex.go: N goroutines on one sync.Mutex;
// serial computes holding it (the runtime spins, then parks its threads on
// futex words of their own), parallel computes first and locks only to add.
// Usage: gomutex N SECONDS serial|parallel [ITERATIONS per unit of work]
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

var iters = 2000000

func work(x uint64) uint64 {
	for i := 0; i < iters; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	secs, _ := strconv.ParseFloat(os.Args[2], 64)
	par := os.Args[3] == "parallel"
	if len(os.Args) > 4 {
		iters, _ = strconv.Atoi(os.Args[4])
	}
	var mu sync.Mutex
	var shared uint64
	var units int64
	end := time.Now().Add(time.Duration(secs * float64(time.Second)))
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			x := uint64(k)
			for time.Now().Before(end) {
				if par {
					x = work(x)
					mu.Lock()
					shared += x
					units++
					mu.Unlock()
				} else {
					mu.Lock()
					shared = work(shared)
					units++
					mu.Unlock()
				}
			}
		}(i)
	}
	wg.Wait()
	fmt.Println("units", units, shared&1)
}
