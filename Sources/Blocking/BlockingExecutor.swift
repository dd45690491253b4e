import Glibc

/// The one place blocking work runs: C calls that wait (libvirt, liblxc, PAM), child processes,
/// large file I/O and lock waits. A bounded pool of plain threads, started on demand and retired
/// when idle, so the HTTP loop threads and Swift's cooperative pool (two threads on a two-core node)
/// never wait on any of it.
///
/// Two ways in: `run` hands one synchronous body over and awaits its result; as a `TaskExecutor`
/// it takes whole tasks (`Task(executorPreference: BlockingExecutor.shared)`), so a task worker that
/// calls `qemu-img` between awaits keeps doing so on these threads. When every thread is busy, work
/// waits in a FIFO queue rather than starting more threads than `maxThreads`.
public final class BlockingExecutor: TaskExecutor, @unchecked Sendable {
    /// The node's executor. 64 threads: guest starts, clones and lock waits of a busy node run side
    /// by side, while a runaway caller still cannot exhaust the process's threads.
    public static let shared = BlockingExecutor(name: "corral-blocking", maxThreads: 64)

    public let name: String
    public let maxThreads: Int
    private let idleSeconds: Int
    private var mutex = pthread_mutex_t()
    private var ready = pthread_cond_t()
    private var queue: [@Sendable () -> Void] = []
    private static let taken: @Sendable () -> Void = {}
    private var head = 0
    private var threads = 0
    private var idle = 0

    public init(name: String, maxThreads: Int, idleSeconds: Int = 30) {
        precondition(maxThreads > 0)
        self.name = name
        self.maxThreads = maxThreads
        self.idleSeconds = idleSeconds
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&ready, nil)
    }

    /// Runs `body` on a blocking thread and returns its result; the caller's thread is free meanwhile.
    public func run<T: Sendable, E: Error>(_ body: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let result: Result<T, E> = await withCheckedContinuation { continuation in
            submit {
                do throws(E) { continuation.resume(returning: .success(try body())) } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// Queues `work` without waiting for it.
    public func submit(_ work: @escaping @Sendable () -> Void) {
        pthread_mutex_lock(&mutex)
        queue.append(work)
        // every queued item needs a thread of its own: an idle one already woken for an earlier item
        // would otherwise leave this one waiting behind it
        let startThread = queue.count - head > idle && threads < maxThreads
        if startThread { threads += 1 }
        pthread_cond_signal(&ready)
        pthread_mutex_unlock(&mutex)
        if startThread { spawnWorker() }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        submit { job.runSynchronously(on: executor) }
    }

    /// Threads running and waiting now, and queued work (for tests and the node's status).
    public var load: (threads: Int, idle: Int, queued: Int) {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return (threads, idle, queue.count - head)
    }

    private func spawnWorker() {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        // libvirt and liblxc calls recurse little; 1 MiB is plenty and keeps 64 threads cheap
        pthread_attr_setstacksize(&attributes, 1 << 20)
        var thread = pthread_t()
        let box = Unmanaged.passRetained(self).toOpaque()
        let created = pthread_create(&thread, &attributes, blockingExecutorThreadMain, box)
        pthread_attr_destroy(&attributes)
        if created != 0 {
            Unmanaged<BlockingExecutor>.fromOpaque(box).release()
            pthread_mutex_lock(&mutex)
            threads -= 1
            let stranded = threads == 0 && queue.count > head
            pthread_mutex_unlock(&mutex)
            // without any thread the queue would never drain: run inline rather than lose work
            if stranded { workerLoop() }
        }
    }

    /// A worker: takes work until it has been idle for `idleSeconds`.
    func workerLoop() {
        pthread_mutex_lock(&mutex)
        while true {
            if head < queue.count {
                let work = queue[head]
                // the slot lets go of the work at once: what it captured (a task's log, its open
                // descriptor) must not live on until the queue is next compacted
                queue[head] = Self.taken
                head += 1
                if head == queue.count {
                    queue.removeAll(keepingCapacity: queue.count <= 1024)
                    head = 0
                } else if head > 1024 && head * 2 > queue.count {
                    queue.removeFirst(head)
                    head = 0
                }
                pthread_mutex_unlock(&mutex)
                work()
                pthread_mutex_lock(&mutex)
                continue
            }
            idle += 1
            var deadline = timespec()
            clock_gettime(CLOCK_REALTIME, &deadline)
            deadline.tv_sec += idleSeconds
            let waited = pthread_cond_timedwait(&ready, &mutex, &deadline)
            idle -= 1
            if waited == ETIMEDOUT && head >= queue.count {
                threads -= 1
                pthread_mutex_unlock(&mutex)
                return
            }
        }
    }
}
