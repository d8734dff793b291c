// tests/integration/verdicts/Sync.java: N threads on one monitor; serial
// computes inside synchronized (the JVM parks each waiter on a futex word of
// its own), parallel computes outside and takes the monitor only to add up.
// Usage: java Sync N SECONDS serial|parallel [ITERATIONS per unit of work]
public class Sync {
    static final Object lock = new Object();
    static long shared;
    static int iters = 2000000;
    static long work(long x) {
        for (int i = 0; i < iters; i++)
            x = x * 6364136223846793005L + 1442695040888963407L;
        return x;
    }
    public static void main(String[] a) throws Exception {
        int n = Integer.parseInt(a[0]);
        long end = System.nanoTime() + (long)(Double.parseDouble(a[1]) * 1e9);
        boolean par = a[2].equals("parallel");
        if (a.length > 3) iters = Integer.parseInt(a[3]);
        Thread[] t = new Thread[n];
        long[] done = new long[n];
        for (int i = 0; i < n; i++) {
            final int k = i;
            t[i] = new Thread(() -> {
                long x = k;
                while (System.nanoTime() < end) {
                    if (par) {
                        x = work(x);
                        synchronized (lock) { shared += x; }
                    } else {
                        synchronized (lock) { shared = work(shared); }
                    }
                    done[k]++;
                }
            });
            t[i].start();
        }
        long tot = 0;
        for (int i = 0; i < n; i++) { t[i].join(); tot += done[i]; }
        System.out.println("units " + tot);
    }
}
