internal import CPAM
import Glibc

/// The PAM conversation: answers every hidden or echoed prompt with the password passed as the
/// application data (a C string), ignores information and error messages.
func corralPAMConversation(
    _ count: Int32, _ messages: UnsafeMutablePointer<UnsafePointer<pam_message>?>?,
    _ responses: UnsafeMutablePointer<UnsafeMutablePointer<pam_response>?>?, _ appData: UnsafeMutableRawPointer?
) -> Int32 {
    guard count > 0, let messages, let responses, let appData else { return PAM_CONV_ERR }
    guard let replies = calloc(Int(count), MemoryLayout<pam_response>.size)?.assumingMemoryBound(to: pam_response.self) else {
        return PAM_BUF_ERR
    }
    let password = appData.assumingMemoryBound(to: CChar.self)
    for i in 0..<Int(count) {
        guard let message = messages[i] else { continue }
        switch message.pointee.msg_style {
        case PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON: replies[i].resp = strdup(password)
        default: replies[i].resp = nil
        }
        replies[i].resp_retcode = 0
    }
    responses.pointee = replies
    return PAM_SUCCESS
}
