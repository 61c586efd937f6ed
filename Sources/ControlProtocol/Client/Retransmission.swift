/// When a client sends a request again, and when it gives up: exponential backoff
/// (each wait `multiplier` times the last, up to `maximumTimeout`), at most `maximumAttempts`
/// sends. Times are milliseconds on any monotonic clock the caller reads.
public struct RetransmissionPolicy: Equatable {
  public var initialTimeout: UInt64 = 250
  public var multiplier: UInt64 = 2
  public var maximumTimeout: UInt64 = 2000
  public var maximumAttempts = 6

  public init() {}

  public init(
    initialTimeout: UInt64, multiplier: UInt64 = 2, maximumTimeout: UInt64, maximumAttempts: Int
  ) {
    self.initialTimeout = initialTimeout
    self.multiplier = multiplier
    self.maximumTimeout = maximumTimeout
    self.maximumAttempts = maximumAttempts
  }
}

/// The client gave up: the node did not answer any of the sends.
public struct NoAnswer: Error, Equatable {
  public var attempts: Int
  public var waitedMilliseconds: UInt64

  public init(attempts: Int, waitedMilliseconds: UInt64) {
    self.attempts = attempts
    self.waitedMilliseconds = waitedMilliseconds
  }

  public var message: StaticString {
    "the node did not answer (is it up, is the address and port right, is the cluster key the node's?)"
  }
}

/// One request's retransmission, as a state machine the caller drives with a clock:
/// `start` → send; `timeout` at each deadline → send again or give up; `answered` ends it.
public struct Retransmission: Equatable {
  public enum State: Equatable {
    case idle
    case waiting
    case answered
    case gaveUp
  }

  public enum Action: Equatable {
    /// Send the request (again) and wait until `deadline`.
    case send(deadline: UInt64)
    /// Not yet: keep waiting until `deadline`.
    case wait(deadline: UInt64)
    case giveUp(NoAnswer)
  }

  public let policy: RetransmissionPolicy
  public private(set) var state = State.idle
  public private(set) var attempts = 0
  public private(set) var deadline: UInt64 = 0
  private var currentTimeout: UInt64
  private var startedAt: UInt64 = 0

  public init(policy: RetransmissionPolicy = RetransmissionPolicy()) {
    precondition(policy.maximumAttempts >= 1, "at least one send")
    self.policy = policy
    currentTimeout = policy.initialTimeout
  }

  public mutating func start(now: UInt64) -> Action {
    precondition(state == .idle, "a retransmission starts once")
    state = .waiting
    startedAt = now
    return sendAgain(now: now)
  }

  /// Called when the clock reaches (or passes) `deadline` with no answer.
  public mutating func timeout(now: UInt64) -> Action {
    precondition(state == .waiting, "no request outstanding")
    guard now >= deadline else { return .wait(deadline: deadline) }
    guard attempts < policy.maximumAttempts else {
      state = .gaveUp
      return .giveUp(NoAnswer(attempts: attempts, waitedMilliseconds: now - startedAt))
    }
    currentTimeout = min(currentTimeout * policy.multiplier, policy.maximumTimeout)
    return sendAgain(now: now)
  }

  public mutating func answered() {
    state = .answered
  }

  private mutating func sendAgain(now: UInt64) -> Action {
    attempts += 1
    deadline = now + currentTimeout
    return .send(deadline: deadline)
  }
}
