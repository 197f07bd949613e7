// Command wfloor measures what one small write to an idle loopback TCP
// socket costs the writing process (user and system CPU), the readers being
// another process on the other core: the floor under B3's fan-out, which
// is one such write per member per group message (BENCHMARKS.md, "Issue
// 17: before and after").
//
//	go build -o /tmp/wfloor ./scripts/wfloor
//	taskset -c 1 /tmp/wfloor serve > /tmp/wf.addr &
//	taskset -c 0 /tmp/wfloor write $(cat /tmp/wf.addr) 499 200 50   # sockets, rounds, ms between rounds
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	switch os.Args[1] {
	case "serve":
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		fmt.Println(ln.Addr())
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				b := make([]byte, 4096)
				for {
					if _, err := c.Read(b); err != nil {
						return
					}
				}
			}()
		}
	case "write":
		n, _ := strconv.Atoi(os.Args[3])
		rounds, _ := strconv.Atoi(os.Args[4])
		gap, _ := strconv.Atoi(os.Args[5])
		var cs []*net.TCPConn
		for range n {
			c, err := net.Dial("tcp", os.Args[2])
			if err != nil {
				panic(err)
			}
			cs = append(cs, c.(*net.TCPConn))
		}
		frame := make([]byte, 180) // about a group message frame
		time.Sleep(time.Second)
		var spent, wall time.Duration
		for range rounds {
			t0, c0 := time.Now(), cpu()
			for _, c := range cs {
				c.Write(frame)
			}
			spent += cpu() - c0
			wall += time.Since(t0)
			time.Sleep(time.Duration(gap) * time.Millisecond)
		}
		w := n * rounds
		fmt.Printf("%d writes to %d sockets: %.2f µs CPU and %.2f µs wall per write; a round of %d takes %.2f ms\n",
			w, n, float64(spent.Microseconds())/float64(w), float64(wall.Microseconds())/float64(w), n, float64(wall.Microseconds())/float64(rounds)/1000)
	}
}
