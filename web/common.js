// Shared by the three pages: words in two languages, calls to the API, and how a colour is shown.
// No framework: a cheap phone should load it in one round trip.

const WORDS = {
  en: {
    lang_switch: '中文',
    green: 'GREEN', yellow: 'YELLOW', red: 'RED',
    green_means: 'No action needed', yellow_means: 'Be ready to leave',
    red_means: 'Go to a shelter now',
    network_error: 'No network. Showing what this device saved.',
    saved: 'Saved', failed: 'Failed', loading: 'Loading…',
    sign_in: 'Sign in', sign_out: 'Sign out', token: 'Access token', save: 'Save',
    // resident
    resident_title: 'My safety code', register: 'Register', name: 'Full name',
    id_type: 'Document', cn_resident_id: 'Resident ID card', passport: 'Passport',
    id_number: 'Document number', phone: 'Phone', address: 'Address', birth_year: 'Year of birth',
    needs: 'Needs', elderly: 'Elderly', disabled: 'Disabled', pregnant: 'Pregnant', infant: 'Infant',
    medical: 'Medical', wheelchair: 'Wheelchair', location: 'Where you live',
    use_location: 'Use my location', add_dependent: 'Add a family member', remove: 'Remove',
    dependent: 'Family member', why: 'Why this colour', valid_until: 'Valid until',
    refresh: 'Refresh', dependents_codes: 'Family members', alerts: 'Alerts', no_alerts: 'No alerts',
    history_title: 'What happened to my record', show_history: 'Show',
    my_reports: 'My hazard reports', my_appeals: 'My appeals', delete_title: 'Delete my record', delete_me: 'Delete my record',
    delete_hint: 'Your details are removed and this phone signed out. If you are in a shelter, have an open appeal or an evacuation order is in force where you live, it is done when that ends.',
    delete_confirm: 'Delete your record? Your code stops working.',
    correct_title: 'Correct my details',
    correct_hint: 'A change that would make your colour stricter is made by an official (any shelter desk will help).',
    save_changes: 'Save changes',
    corrected: 'Your details are corrected.',
    no_changes: 'Nothing was changed.',
    needs_official: 'This change would make your colour stricter, so an official makes it: show your ID card at any shelter desk.',
    my_data_title: 'Everything held about me', show_data: 'Show my data', download_data: 'Download (JSON)',
    history_hint: 'Every change to your colour and details, your shelter stays and relief, and who looked at your record.',
    by_resident: 'you', by_staff: 'shelter staff', by_official: 'an official', by_admin: 'an administrator', by_system: 'the system',
    read_it: 'I have read this', read: 'Read', ack_link_done: 'Thank you: you have acknowledged this alert.', safe_title: 'I am safe', at_home: 'At home',
    with_relatives: 'With relatives', safe_done: 'Recorded: you are safe',
    report_title: 'Report a hazard', category: 'What', text: 'Details', photo: 'Photo',
    send: 'Send', report_sent: 'Report sent. Thank you.', flooding: 'Flooding',
    landslide: 'Landslide', levee_breach: 'Levee breach', road_blocked: 'Road blocked',
    power_line: 'Power line down', trapped_people: 'People trapped', other: 'Other',
    appeal_title: 'Disagree with your colour?', appeal_text: 'Tell us why',
    appeal_sent: 'Appeal sent. An official will answer.', offline_code: 'Saved code (offline)',
    // scanner
    scan_title: 'Shelter scanner', shelter: 'Shelter', choose_shelter: 'Choose the shelter',
    start_camera: 'Scan with camera', stop_camera: 'Stop camera',
    typed_token: 'Or type / scan with a hardware reader', check: 'Check',
    admit: 'Admit', check_out: 'Check out', hand_out: 'Hand out', quantity: 'Quantity',
    compare_id: 'Compare with the ID card', stale: 'The code shows an old colour: go by this one',
    document_disputed: 'This ID number is registered more than once: check the ID card before admitting or handing out anything, and tell an official',
    signed_in_again: 'Your record is back on this phone. Codes shown on any other phone no longer work.',
    invalid: 'NOT VALID', cannot_verify: 'CANNOT VERIFY', cannot_verify_why:
      'The offline data is too old. Connect to the network to refresh it.',
    colour_unknown: 'SIGNATURE VALID · COLOUR UNKNOWN OFFLINE',
    colour_unknown_why: 'A genuine code of district {district}, whose offline data this tablet does not carry. Check it online, or add district {district} below while online.',
    bundle_districts: 'districts', neighbours: 'Districts evacuees come from',
    neighbours_hint: "District numbers, separated by commas (your shelter's own is always carried)",
    admitted: 'Admitted', checked_out: 'Checked out', handed_out: 'Handed out',
    queued: 'Saved on this device; will be sent when the network returns',
    offline: 'OFFLINE', online: 'Online', pending_sync: 'Waiting to send', sync_now: 'Send now',
    synced: 'Sent', conflicts: 'Problems', bundle_age: 'Offline data from', next: 'Next person',
    clock_off: "This device's clock is wrong: set the date and time, or offline answers will be wrong",
    untrusted_bundle: 'The offline data is signed by a key this tablet does not trust: not used. Tell the shelter lead.',
    // map, live, printing
    residents_n: 'residents', draw_zone: 'Draw a zone', import_zones: 'Import zones (GeoJSON or KML file)',
    draw_how: 'Click or tap the map at each corner of the zone, then press Finish.', finish: 'Finish', cancel: 'Cancel',
    new_zone: 'New zone', zone_name: 'Name of the zone', preview_impact: 'Preview the impact', save_zone: 'Save the zone',
    imported_zones: 'Zones in the file', save_accepted: 'Save the accepted zones', edit_shape: 'Edit the shape',
    save_shape: 'Save the shape', print_codes: 'Print codes', delete_zone: 'Delete the zone', last_hours: 'The last hours',
    print_title: 'Print codes for people without a phone',
    print_how: 'One PDF for a print shop: A4 sheets of cards with cut marks, each card a code valid for the season. The colour is checked live when a card is scanned.',
    print_what: 'Whose codes', print_zone: 'Everyone in a zone', print_incident: "Everyone in an incident's zones",
    print_csv: 'A list of residents (CSV file)', incident: 'Incident', csv_file: 'CSV file with a resident_id column',
    print_go: 'Make the PDF', lift_first: 'Lift the order first', order_issued: 'Order issued', order_lifted: 'Order lifted',
    zone_deleted: 'Zone deleted', three_corners: 'A zone needs at least three corners.',
    would_turn_red: 'would turn red', would_turn_yellow: 'would turn yellow', need_help: 'need help to move',
    bad_zone_file: 'This file is not GeoJSON or KML.', no_polygon: 'no polygon in this entry', refused: 'Refused',
    live_polling: 'Updating every 15 seconds', live_on: 'Live', live_reconnecting: 'Connection lost: reconnecting…',
    no_ids_in_csv: 'No resident ids found in the file.', print_working: 'Making the PDF…', cards_done: 'cards',
    print_broken: 'The download broke off. Try again.', download_pdf: 'Download the PDF', cards: 'cards',
    cards_ready: 'cards ready', no_samples: 'No counts kept yet.', must_move: 'Must move',
    safe_with_relatives: 'Safe with relatives', corner: 'Corner', open: 'open', full: 'full', closed: 'closed',
    where_title: 'Where to go', where_how: 'Open shelters with free places, nearest first.',
    free_places: 'free places', km: 'km', directions: 'Directions', where_none: 'No open shelter with free places is known. Call your village official.',
    where_saved: 'Saved list from', use_here: 'Use where I am now', large_text: 'Larger text', infants: 'Infant care', amap: 'Amap (高德地图)',
    // ops
    ops_title: 'Operations', zones: 'Zones', residents: 'Residents', sheltered: 'Sheltered',
    safe_relatives: 'Safe with relatives', not_reached: 'Not reached', order: 'Order',
    issue_order: 'Issue an order', level: 'Level', advisory: 'Advisory', mandatory: 'Mandatory',
    reason: 'Reason', preview: 'Preview', confirm: 'Confirm', will_turn_red: 'will turn red',
    will_turn_yellow: 'will turn yellow', orders: 'Orders in force', lift: 'Lift',
    approvals: 'Waiting for approval', approve: 'Approve', reject: 'Reject',
    kind_override: 'Individual colour', kind_facts: 'Change of facts', kind_rules: 'Rule set',
    kind_clear_override: 'Clear an override', kind_appeal: 'Uphold an appeal',
    kind_duplicates: 'Retire doubled registrations',
    documents: 'ID numbers registered more than once', find_document: 'Find the records of an ID card',
    find: 'Find', close: 'Close',
    send_alert: 'Send an alert', response_type: 'What to do', severity: 'Severity', urgency: 'Urgency',
    certainty: 'Certainty', headline: 'Headline', description: 'What is happening', instruction: 'What people should do',
    event: 'Event', escalate_after: 'Escalate after (minutes)', resend_sms: 'Send SMS now', alert_sent: 'Alert sent to',
    alert_needs_text: 'Write the headline and what is happening, in Chinese or English.', queued: 'queued',
    alert_hint: 'Write it in Chinese, English or both: each person is sent the one they read. Whoever has not acknowledged gets an SMS, then a call, then their village group hears, then the door-to-door list.',
    door_to_door: 'Door-to-door list', door_hint: 'Still not acknowledged after SMS and a call, village by village, with what was tried.',
    print_list: 'Print', contacts: 'Village groups and email', contact_kind: 'Kind', contact_name: 'Name',
    contacts_hint: "A village's DingTalk group robot or email hears of its alerts at once, and who is still to reach when escalation ends.",
    contact_address: 'Robot address or email', contact_secret: 'Robot secret (SEC…)', contact_language: 'Language',
    add_contact: 'Add', reached: 'Reached', tried: 'Tried', no_one_left: 'Everyone has acknowledged.',
    standing_primary: 'first registered', standing_claim: 'registered later', in_other_district: 'another district',
    id_card_checked: 'I have checked the ID card of the person in front of me',
    take_back: 'Give this record to the person here', take_back_done: 'Scan this with the person’s phone: it signs them in. It is shown once. Every earlier sign-in of this record no longer works.',
    retire_others: 'records to retire, waiting for a second official', no_records: 'No record names this document',
    rules_added: 'rules added', rules_removed: 'removed', rules_changed: 'changed',
    rollback: 'roll back', changed: 'changed',
    acknowledged: 'Acknowledged', pending: 'Pending', download_pending: 'Download pending (CSV)',
    reports: 'Hazard reports', urgent: 'URGENT', shelters: 'Shelters', occupancy: 'Occupancy',
    none: 'None', recipients: 'Recipients',
    lost_phone_title: 'If you lose this phone',
    lost_phone_how: 'Take your ID card to a district official (any shelter desk will tell you where). They check the card and give your record back to you: scan the code they show with your new phone and you are signed in. The lost phone stops working at that moment. Your code, alerts and family stay as they were.',
    // signing in
    login: 'Sign-in name', password: 'Password',
    passkey_sign_in: 'Sign in with a passkey', passkey_add: 'Add a passkey',
    passkey_added: 'Passkey added: next time sign in with it.',
    totp_code: 'Code from the authenticator app (or a recovery code)',
    setup_title: 'Set up your sign-in', setup_for: 'Account',
    setup_scan: '1. Scan this with an authenticator app (Google Authenticator, Microsoft Authenticator, FreeOTP, Aliyun or Tencent authenticator…).',
    setup_secret: 'Or type this key', new_password: '2. Choose a password (at least 10 characters)',
    setup_code: '3. The six digits the app shows now', finish_setup: 'Finish and sign in',
    recovery_title: 'Recovery codes',
    recovery_why: 'Write these down and keep them apart from your phone. Each signs you in once if the phone is lost. They are shown only now.',
    recovery_done: 'I have written them down',
    token_door: 'Sign in with an access token (machines and scripts)',
    signed_out_again: 'Your session has ended. Sign in again.',
    desk_phones: 'Desk phones', desk_name: 'Name of the desk', desk_hours: 'Signed in for (hours)',
    enrol_phone_offer: 'Show an enrolment code',
    enrol_how: 'On the desk phone open /scan, tap “Enrol this phone” and point it at this code (or scan it with the phone’s camera app). It works once.',
    revoke_all: 'Sign out every phone of this shelter', revoke_all_confirm: 'Sign out every desk phone of this shelter now?',
    revoked: 'Signed out', last_used: 'last used', renew: 'Renew', revoke: 'Sign out this phone',
    enrol_this_phone: 'Enrol this phone', enrol_point: 'Point the camera at the enrolment code on the official’s screen.',
    enrolled_as: 'This phone is enrolled as', device_until: 'until',
    device_ended: 'This phone was signed out by an official or its time ran out, and keeps nothing of this shelter. Ask for a new enrolment code.',
    queue_kept: 'records admitted offline wait here: enrol this phone again at the same shelter to send them.',
    queue_dropped: 'records admitted offline and not yet sent were removed with the sign-out.',
    enrol_replace: 'This phone is already a desk. Replace its enrolment with this one?',
  },
  zh: {
    lang_switch: 'English',
    green: '绿码', yellow: '黄码', red: '红码',
    green_means: '无需行动', yellow_means: '做好转移准备', red_means: '立即转移到安置点',
    network_error: '没有网络。显示本机保存的内容。',
    saved: '已保存', failed: '失败', loading: '加载中…',
    sign_in: '登录', sign_out: '退出', token: '访问令牌', save: '保存',
    resident_title: '我的安全码', register: '登记', name: '姓名', id_type: '证件',
    cn_resident_id: '居民身份证', passport: '护照', id_number: '证件号码', phone: '电话',
    address: '地址', birth_year: '出生年份', needs: '特殊需要', elderly: '老人', disabled: '残障',
    pregnant: '孕妇', infant: '婴儿', medical: '医疗依赖', wheelchair: '轮椅', location: '居住位置',
    use_location: '使用我的位置', add_dependent: '添加家庭成员', remove: '删除',
    dependent: '家庭成员', why: '为什么是这个颜色', valid_until: '有效期至', refresh: '刷新',
    dependents_codes: '家庭成员', alerts: '预警', no_alerts: '没有预警', history_title: '我的记录发生了什么', show_history: '查看',
    my_reports: '我报告的险情', my_appeals: '我的申诉', delete_title: '删除我的记录', delete_me: '删除我的记录',
    delete_hint: '您的资料将被删除，本手机退出登录。如果您在安置点、有未处理的申诉，或所在区域的转移令仍有效，将在其结束后删除。',
    delete_confirm: '确定删除您的记录吗？您的安全码将失效。',
    correct_title: '更正我的资料',
    correct_hint: '会使码色变严的更改需由工作人员办理（任何安置点服务台都可以帮忙）。',
    save_changes: '保存更改',
    corrected: '您的资料已更正。',
    no_changes: '没有更改。',
    needs_official: '此更改会使您的码色变严，需由工作人员办理：请携带身份证到任一安置点服务台。',
    my_data_title: '保存的关于我的全部信息', show_data: '查看我的信息', download_data: '下载（JSON）',
    history_hint: '码色和资料的每次变更、入住安置点和领取物资的记录，以及谁查看过您的记录。',
    by_resident: '本人', by_staff: '安置点工作人员', by_official: '一名官员', by_admin: '一名管理员', by_system: '系统',
    read_it: '我已阅读', ack_link_done: '谢谢，您已确认收到这条预警。',
    read: '已读', safe_title: '我很安全', at_home: '在家', with_relatives: '在亲友家',
    safe_done: '已记录：您是安全的', report_title: '报告险情', category: '类型', text: '详情',
    photo: '照片', send: '发送', report_sent: '已发送，谢谢。', flooding: '内涝',
    landslide: '山体滑坡', levee_breach: '堤坝决口', road_blocked: '道路阻断',
    power_line: '电线断落', trapped_people: '有人被困', other: '其他',
    appeal_title: '对颜色有异议？', appeal_text: '请说明理由', appeal_sent: '申诉已提交，工作人员会答复。',
    offline_code: '已保存的安全码（离线）',
    scan_title: '安置点扫码', shelter: '安置点', choose_shelter: '选择安置点',
    start_camera: '用摄像头扫码', stop_camera: '关闭摄像头', typed_token: '或输入 / 扫码枪扫入',
    check: '核验', admit: '接收入住', check_out: '离开', hand_out: '发放物资', quantity: '数量',
    compare_id: '请与身份证核对', stale: '码上的颜色已过时：以此为准',
    document_disputed: '此身份证号被登记了不止一次：接收或发放物资前请核对身份证，并告知工作人员',
    signed_in_again: '您的登记已恢复到本手机。其他手机上的登录已失效。', invalid: '无效',
    cannot_verify: '无法核验', cannot_verify_why: '离线数据太旧。请联网更新。',
    colour_unknown: '签名有效 · 离线无法确定当前颜色',
    colour_unknown_why: '这是第 {district} 区的真实码，本设备没有该区的离线数据。请联网核验，或联网时在下方添加第 {district} 区。',
    bundle_districts: '区域', neighbours: '疏散人员来源区域',
    neighbours_hint: '区域编号，用逗号分隔（本避难所所在区域始终包含）',
    admitted: '已入住', checked_out: '已离开', handed_out: '已发放',
    queued: '已保存在本机，联网后自动上传', offline: '离线', online: '在线',
    pending_sync: '待上传', sync_now: '立即上传', synced: '已上传', conflicts: '问题',
    bundle_age: '离线数据时间', next: '下一位',
    clock_off: '本设备时间不准确：请校准日期和时间，否则离线核验结果会出错',
    untrusted_bundle: '离线数据的签名密钥不受本设备信任，已拒绝使用。请告知安置点负责人。',
    residents_n: '位居民', draw_zone: '绘制区域', import_zones: '导入区域（GeoJSON 或 KML 文件）',
    draw_how: '在地图上依次点击区域的每个角，然后点“完成”。', finish: '完成', cancel: '取消',
    new_zone: '新区域', zone_name: '区域名称', preview_impact: '预览影响', save_zone: '保存区域',
    imported_zones: '文件中的区域', save_accepted: '保存通过校验的区域', edit_shape: '编辑形状',
    save_shape: '保存形状', print_codes: '打印码', delete_zone: '删除区域', last_hours: '最近几小时',
    print_title: '为没有手机的人打印码',
    print_how: '生成一份交给印刷店的 PDF：A4 纸上排列带裁切线的卡片，每张卡片上的码整个汛期有效。扫码时实时核验颜色。',
    print_what: '打印谁的码', print_zone: '某区域内所有人', print_incident: '某事件所涉区域内所有人',
    print_csv: '居民名单（CSV 文件）', incident: '事件', csv_file: '含 resident_id 列的 CSV 文件',
    print_go: '生成 PDF', lift_first: '请先解除指令', order_issued: '指令已下达', order_lifted: '指令已解除',
    zone_deleted: '区域已删除', three_corners: '区域至少需要三个角。',
    would_turn_red: '人将变为红码', would_turn_yellow: '人将变为黄码', need_help: '人需要协助转移',
    bad_zone_file: '此文件不是 GeoJSON 或 KML。', no_polygon: '此条目没有多边形', refused: '未通过',
    live_polling: '每 15 秒更新', live_on: '实时', live_reconnecting: '连接中断，正在重连…',
    no_ids_in_csv: '文件中没有找到居民编号。', print_working: '正在生成 PDF…', cards_done: '张',
    print_broken: '下载中断，请重试。', download_pdf: '下载 PDF', cards: '张卡片',
    cards_ready: '张卡片已生成', no_samples: '尚无统计记录。', must_move: '需转移',
    safe_with_relatives: '投亲靠友', corner: '角', open: '开放', full: '已满', closed: '关闭',
    where_title: '去哪里', where_how: '有空位的开放安置点，由近到远。',
    free_places: '个空位', km: '公里', directions: '导航', where_none: '暂无有空位的开放安置点。请联系村干部。',
    where_saved: '已保存的列表，更新于', use_here: '按我现在的位置', large_text: '大字', infants: '婴幼儿照护', amap: '高德地图',
    ops_title: '指挥调度', zones: '区域', residents: '居民', sheltered: '已安置',
    safe_relatives: '在亲友家安全', not_reached: '未联系上', order: '命令', issue_order: '发布转移令',
    level: '级别', advisory: '建议转移', mandatory: '强制转移', reason: '理由', preview: '预览',
    confirm: '确认', will_turn_red: '人将变为红码', will_turn_yellow: '人将变为黄码',
    orders: '生效中的命令', lift: '解除', approvals: '待审批', approve: '批准', reject: '驳回',
    kind_override: '个人赋码', kind_facts: '信息变更', kind_rules: '规则集',
    kind_clear_override: '撤销个人赋码', kind_appeal: '支持申诉',
    kind_duplicates: '注销重复登记',
    documents: '被重复登记的身份证号', find_document: '按身份证查找登记', find: '查找', close: '关闭',
    send_alert: '发布预警', response_type: '应对措施', severity: '严重程度', urgency: '紧急程度',
    certainty: '确定程度', headline: '标题', description: '情况说明', instruction: '群众应当怎么做',
    event: '事件', escalate_after: '升级间隔（分钟）', resend_sms: '立即发短信', alert_sent: '预警已发送给',
    alert_needs_text: '请用中文或英文填写标题和情况说明。', queued: '条已排队',
    alert_hint: '可用中文、英文或两种语言填写：每人收到自己所用语言的版本。未确认者依次收到短信、电话，然后通知所在村的群，最后生成上门名单。',
    door_to_door: '上门名单', door_hint: '短信和电话后仍未确认的人员，按村列出，并注明已尝试的方式。',
    print_list: '打印', contacts: '村级钉钉群与邮箱', contact_kind: '类型', contact_name: '名称',
    contacts_hint: '村里的钉钉群机器人或邮箱会立即收到本村预警，升级结束时收到仍未联系上的人数。',
    contact_address: '机器人地址或邮箱', contact_secret: '机器人加签密钥 (SEC…)', contact_language: '语言',
    add_contact: '添加', reached: '已送达', tried: '已尝试', no_one_left: '所有人都已确认。',
    standing_primary: '先登记', standing_claim: '后登记',
    in_other_district: '其他辖区', id_card_checked: '我已核对本人身份证',
    take_back: '将此登记交还给本人', take_back_done: '请用本人手机扫描此码完成登录。此码只显示一次，此前的登录全部失效。',
    retire_others: '条登记待注销，等待第二位工作人员批准', no_records: '没有登记使用此证件', rules_added: '条规则新增',
    rules_removed: '删除', rules_changed: '修改', rollback: '回退', changed: '已修改',
    acknowledged: '已确认', pending: '未确认', download_pending: '下载未确认名单 (CSV)',
    reports: '险情报告', urgent: '紧急', shelters: '安置点', occupancy: '入住',
    none: '无', recipients: '接收人数',
    lost_phone_title: '手机丢失怎么办',
    lost_phone_how: '请携带身份证找街道（乡镇）工作人员（任一安置点服务台可告知在哪里）。核验证件后，工作人员会把您的档案交还给您：用新手机扫描他们出示的二维码即可登录，丢失的手机同时失效。您的安全码、预警和家庭成员都保持不变。',
    passkey_sign_in: '使用通行密钥登录', passkey_add: '添加通行密钥', passkey_added: '已添加通行密钥，下次可直接用它登录。',
    login: '登录名', password: '密码', totp_code: '身份验证器上的验证码（或恢复码）',
    setup_title: '设置登录', setup_for: '账号',
    setup_scan: '1. 用身份验证器应用扫描此码（Google / Microsoft Authenticator、FreeOTP、阿里云或腾讯身份验证器等）。',
    setup_secret: '或手动输入密钥', new_password: '2. 设置密码（至少 10 个字符）',
    setup_code: '3. 输入应用当前显示的六位数字', finish_setup: '完成并登录',
    recovery_title: '恢复码', recovery_why: '请抄写下来，与手机分开保管。手机丢失时，每个恢复码可登录一次。仅此一次显示。',
    recovery_done: '我已抄写', token_door: '使用访问令牌登录（程序和脚本）',
    signed_out_again: '登录已过期，请重新登录。',
    desk_phones: '服务台手机', desk_name: '服务台名称', desk_hours: '登录有效时长（小时）',
    enrol_phone_offer: '显示登记码',
    enrol_how: '在服务台手机上打开 /scan，点“登记本机”，对准此码（或用手机相机扫描）。仅可使用一次。',
    revoke_all: '注销本安置点所有手机', revoke_all_confirm: '现在注销本安置点的所有服务台手机？',
    revoked: '已注销', last_used: '最近使用', renew: '延长', revoke: '注销此手机',
    enrol_this_phone: '登记本机', enrol_point: '请将摄像头对准工作人员屏幕上的登记码。',
    enrolled_as: '本机已登记为', device_until: '有效至',
    device_ended: '本机已被注销或已过期，不再保留本安置点的任何数据。请索取新的登记码。',
    queue_kept: '条离线记录仍保存在本机：在同一安置点重新登记本机即可上传。',
    queue_dropped: '条尚未上传的离线记录已随注销删除。',
    enrol_replace: '本机已登记为服务台。要用这个登记码替换吗？',
  },
};

export function lang() {
  const saved = localStorage.getItem('sc_lang');
  if (saved === 'en' || saved === 'zh') return saved;
  return (navigator.language || 'en').toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

export function t(key) {
  return WORDS[lang()][key] ?? WORDS.en[key] ?? key;
}

/** Fills every [data-t] element with its words and wires the language button. */
export function applyWords(root = document) {
  document.documentElement.lang = lang() === 'zh' ? 'zh-CN' : 'en';
  for (const el of root.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  for (const el of root.querySelectorAll('[data-t-placeholder]')) {
    el.placeholder = t(el.dataset.tPlaceholder);
  }
}

/** Lets the pages open with no network (web/sw.js). */
export function keepOffline() {
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch(() => {});
}

export function setupLanguage(onChange) {
  keepOffline();
  const button = document.getElementById('lang');
  button.textContent = t('lang_switch');
  button.onclick = () => {
    localStorage.setItem('sc_lang', lang() === 'zh' ? 'en' : 'zh');
    button.textContent = t('lang_switch');
    applyWords();
    onChange?.();
  };
  applyWords();
}

/** An element with text (never HTML: names and alerts are typed by people). */
export const $ = (id) => document.getElementById(id);

/** Shows a line in the page's #message box (an error in red), or hides it when empty. */
export function say(text, error = false) {
  const m = $('message');
  m.textContent = text;
  m.className = error ? 'note error' : 'note';
  m.hidden = !text;
}

/** `api` with the page's token and a hook told whether the network answered: each page's
 * `call`. */
export function caller(token, onNetwork = () => {}) {
  return async (path, opts = {}) => {
    try {
      const r = await api(path, { token: token(), ...opts });
      onNetwork(true);
      return r;
    } catch (err) {
      if (err instanceof Offline) onNetwork(false);
      throw err;
    }
  };
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e[k] = v;
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

export class Offline extends Error {}

/**
 * Calls the API. Resolves to {ok, status, data}; a problem-details answer comes back as data
 * with ok false. Rejects with Offline when the server cannot be reached.
 */
export async function api(path, { method = 'GET', token, body, form, headers = {}, accept } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (accept) h.Accept = accept;
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers: h, body: payload, cache: 'no-store' });
  } catch {
    throw new Offline();
  }
  const type = res.headers.get('content-type') || '';
  let data = null;
  if (type.includes('json')) data = await res.json();
  else if (res.status !== 204) data = await res.text();
  return { ok: res.ok, status: res.status, data };
}

/** A problem's words for a person: its detail, else its title. */
export function problem(r) {
  return (r.data && (r.data.detail || r.data.title)) || `${t('failed')} (${r.status})`;
}

const ICONS = {
  // Shape as well as hue: a circle, a triangle, an octagon read the same to colour-blind eyes.
  green: '<svg viewBox="0 0 40 40" aria-hidden="true"><circle cx="20" cy="20" r="17" fill="#fff"/><path d="M11 21l6 6 12-13" stroke="#0a6b2d" stroke-width="5" fill="none"/></svg>',
  yellow: '<svg viewBox="0 0 40 40" aria-hidden="true"><path d="M20 3l18 33H2z" fill="#fff"/><path d="M20 14v11M20 29v3" stroke="#000" stroke-width="4"/></svg>',
  red: '<svg viewBox="0 0 40 40" aria-hidden="true"><path d="M13 2h14l11 11v14L27 38H13L2 27V13z" fill="#fff"/><path d="M13 13l14 14M27 13L13 27" stroke="#b00020" stroke-width="5"/></svg>',
};

/** The colour as a band: icon, the word, and what it means. */
export function colourBand(colour) {
  const band = el('div', { class: `band ${colour}`, role: 'status', 'data-colour': colour });
  const icon = el('span', { class: 'icon' });
  icon.innerHTML = ICONS[colour] || '';
  band.append(icon, el('span', { class: 'word' }, t(colour)),
    el('span', { class: 'means' }, t(`${colour}_means`)));
  return band;
}

export function when(iso) {
  if (!iso) return '';
  const d = typeof iso === 'number' ? new Date(iso * 1000) : new Date(iso);
  return d.toLocaleString(lang() === 'zh' ? 'zh-CN' : 'en-GB', { dateStyle: 'short', timeStyle: 'short' });
}

export function uuid() {
  return crypto.randomUUID ? crypto.randomUUID()
    : '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) =>
      (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));
}

export function store(key, value) {
  if (value === undefined) {
    try { return JSON.parse(localStorage.getItem(key)); } catch { return null; }
  }
  if (value === null) localStorage.removeItem(key);
  else localStorage.setItem(key, JSON.stringify(value));
  return value;
}
