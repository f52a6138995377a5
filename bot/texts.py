"""Shared Vietnamese messages of the shell. Feature texts live beside their handlers."""

INTERNAL_ERROR = ("Xin lỗi, hệ thống vừa gặp trục trặc khi xử lý tin nhắn của bạn. "
                  "Những gì bạn đã nhập trước đó vẫn được giữ nguyên, bạn thử gửi lại giúp mình nhé.")
BINARY_INPUT = "Mình không đọc được nội dung này. Bạn vui lòng gõ bằng chữ giúp mình nhé."
TOO_LONG = "Tin nhắn dài quá ({limit} ký tự trở xuống thôi ạ). Bạn chia nhỏ hoặc tóm tắt lại giúp mình nhé."
EMPTY_INPUT = "Bạn chưa nhập nội dung. Bạn cần hỏi gì cứ gõ vào đây, hoặc gõ /help để xem hướng dẫn."
UNKNOWN_COMMAND = "Mình chưa biết lệnh /{cmd}. Gõ /help để xem các lệnh có thể dùng nhé."
STALE_BUTTON = "Nút này đã hết hiệu lực. Bạn gõ /help để bắt đầu lại nhé."
FLOW_CANCELLED = "Đã hủy {title}. {{You}} cần gì thêm cứ nhắn {{me}} nhé."  # then forms.spoken()
NOTHING_TO_CANCEL = "Hiện không có việc gì đang làm dở để hủy."
FLOW_LEFT = "(Mình đã dừng {title} đang làm dở.)"
FORM_SET_ASIDE = "({{Me}} tạm để {title} đang làm dở sang một bên; gõ \"tiếp tục\" khi {{you}} muốn quay lại.)"
MEDIA_WITHOUT_CONTEXT = ("Mình đã nhận được. Nếu bạn muốn phản ánh một sự việc ở khu phố, "
                         "gõ /phananh rồi làm theo hướng dẫn nhé.")
FALLBACK = ("Xin lỗi, câu này mình chưa trả lời được. Mình có thể giúp về thủ tục hành chính "
            "(khai sinh, cư trú, căn cước, VNeID...) và nhận phản ánh về trật tự, vệ sinh đô thị.")
QUARANTINED = ("Xin lỗi, mình chưa xử lý được tin nhắn này. Cán bộ phường đã được báo để kiểm tra. "
               "Bạn có thể gửi nội dung khác, hoặc gõ /help để xem hướng dẫn.")
BAD_SENDER = "Mình không nhận diện được cuộc trò chuyện này. Bạn mở lại khung chat rồi gửi lại giúp mình nhé."
BAD_LOCATION = "Vị trí này không hợp lệ. Bạn chia sẻ lại vị trí, hoặc gõ địa chỉ giúp mình nhé."
BUTTON_OF_OTHER = "Nút này thuộc biểu mẫu của {owner}, chỉ người đó bấm được."
CANCEL_OF_OTHER = "Biểu mẫu \"{title}\" đang mở là của {owner}, chỉ người đó hủy được."
ROLE_LOST = "Bạn không còn quyền dùng {title}, nên mình đã dừng biểu mẫu này."
