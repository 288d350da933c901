<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN" sourcelanguage="en">
<context>
    <name>AttemptHistoryModel</name>
    <message>
        <source>Started</source>
        <translation>开始时间</translation>
    </message>
    <message>
        <source>Serial</source>
        <translation>序列号</translation>
    </message>
    <message>
        <source>Result</source>
        <translation>结果</translation>
    </message>
    <message>
        <source>Failed step</source>
        <translation>失败步骤</translation>
    </message>
    <message>
        <source>Code</source>
        <translation>代码</translation>
    </message>
    <message>
        <source>Operator</source>
        <translation>操作员</translation>
    </message>
    <message>
        <source>Device id</source>
        <translation>设备 ID</translation>
    </message>
    <message>
        <source>Work order</source>
        <translation>工单</translation>
    </message>
    <message>
        <source>Attempt</source>
        <translation>尝试</translation>
    </message>
    <message>
        <source>Passed</source>
        <translation>合格</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>不合格</translation>
    </message>
    <message>
        <source>Needs inspection</source>
        <translation>待检查</translation>
    </message>
    <message>
        <source>In progress</source>
        <translation>进行中</translation>
    </message>
    <message>
        <source> (rework)</source>
        <translation>（返工）</translation>
    </message>
</context>
<context>
    <name>DemoBar</name>
    <message>
        <source>Training mode: simulated units</source>
        <translation>培训模式：模拟产品</translation>
    </message>
    <message>
        <source>Simulate scan</source>
        <translation>模拟扫描</translation>
    </message>
    <message>
        <source>Simulate badge scan</source>
        <translation>模拟扫描工牌</translation>
    </message>
    <message>
        <source>Scan again</source>
        <translation>再次扫描</translation>
    </message>
    <message>
        <source>Faults</source>
        <translation>故障</translation>
    </message>
    <message>
        <source>Drop flash writes</source>
        <translation>丢失闪存写入</translation>
    </message>
    <message>
        <source>Silent console</source>
        <translation>串口无响应</translation>
    </message>
    <message>
        <source>Next unit arrives locked</source>
        <translation>下一个产品到达时已锁定</translation>
    </message>
    <message>
        <source>Flash algorithm hangs</source>
        <translation>烧录算法卡死</translation>
    </message>
    <message>
        <source>Slot {slot}: {serial}</source>
        <translation>工位 {slot}：{serial}</translation>
    </message>
    <message>
        <source>No unit scanned yet</source>
        <translation>尚未扫描产品</translation>
    </message>
    <message>
        <source>Slot {slot}</source>
        <translation>工位 {slot}</translation>
    </message>
    <message>
        <source>Clear faults</source>
        <translation>清除故障</translation>
    </message>
    <message>
        <source>Slot {slot}: {faults}</source>
        <translation>工位 {slot}：{faults}</translation>
    </message>
</context>
<context>
    <name>Dialogs</name>
    <message>
        <source>This did not work: a station problem. Try again, or call an engineer.</source>
        <translation>操作未成功：工作站出现问题。请重试，或呼叫工程师。</translation>
    </message>
</context>
<context>
    <name>EngineerView</name>
    <message>
        <source>Recipe and work order</source>
        <translation>配方和工单</translation>
    </message>
    <message>
        <source>Check a recipe file…</source>
        <translation>检查配方文件…</translation>
    </message>
    <message>
        <source>Use this recipe</source>
        <translation>使用此配方</translation>
    </message>
    <message>
        <source>Work order</source>
        <translation>工单</translation>
    </message>
    <message>
        <source>Set</source>
        <translation>设置</translation>
    </message>
    <message>
        <source>Factory CA</source>
        <translation>工厂 CA</translation>
    </message>
    <message>
        <source>State</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Name (new CA)</source>
        <translation>名称（新 CA）</translation>
    </message>
    <message>
        <source>CA passphrase</source>
        <translation>CA 密码</translation>
    </message>
    <message>
        <source>Again (new CA)</source>
        <translation>再次输入（新 CA）</translation>
    </message>
    <message>
        <source>Open CA</source>
        <translation>打开 CA</translation>
    </message>
    <message>
        <source>Create CA</source>
        <translation>创建 CA</translation>
    </message>
    <message>
        <source>Activation tokens</source>
        <translation>激活令牌</translation>
    </message>
    <message>
        <source>Token file</source>
        <translation>令牌文件</translation>
    </message>
    <message>
        <source>Browse…</source>
        <translation>浏览…</translation>
    </message>
    <message>
        <source>Product</source>
        <translation>产品型号</translation>
    </message>
    <message>
        <source>Uses per token</source>
        <translation>每个令牌的使用次数</translation>
    </message>
    <message>
        <source>no limit</source>
        <translation>不限</translation>
    </message>
    <message>
        <source>Vault passphrase</source>
        <translation>令牌库密码</translation>
    </message>
    <message>
        <source>Import tokens</source>
        <translation>导入令牌</translation>
    </message>
    <message>
        <source>Slots</source>
        <translation>工位</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <source>Probe</source>
        <translation>探针</translation>
    </message>
    <message>
        <source>Console port</source>
        <translation>串口</translation>
    </message>
    <message>
        <source>Fixture label</source>
        <translation>治具标签</translation>
    </message>
    <message>
        <source>Add slot</source>
        <translation>添加工位</translation>
    </message>
    <message>
        <source>Remove slot</source>
        <translation>移除工位</translation>
    </message>
    <message>
        <source>Find probes and ports</source>
        <translation>查找探针和串口</translation>
    </message>
    <message>
        <source>Save slots</source>
        <translation>保存工位</translation>
    </message>
    <message>
        <source>People</source>
        <translation>人员</translation>
    </message>
    <message>
        <source>Name / badge id</source>
        <translation>名字 / 工牌号</translation>
    </message>
    <message>
        <source>Role</source>
        <translation>角色</translation>
    </message>
    <message>
        <source>PIN (supervisor, engineer)</source>
        <translation>PIN 码（主管、工程师）</translation>
    </message>
    <message>
        <source>Register</source>
        <translation>登记</translation>
    </message>
    <message>
        <source>In use: {path}</source>
        <translation>正在使用：{path}</translation>
    </message>
    <message>
        <source>Refused: {problem}</source>
        <translation>被拒绝：{problem}</translation>
    </message>
    <message>
        <source>No recipe chosen.</source>
        <translation>未选择配方。</translation>
    </message>
    <message>
        <source>open for this recipe</source>
        <translation>已为此配方打开</translation>
    </message>
    <message>
        <source>its key is in the token, not open: open it (the token&apos;s PIN comes from the station&apos;s PIN file)</source>
        <translation>密钥在令牌中，尚未打开：请打开（令牌的 PIN 来自工作站的 PIN 文件）</translation>
    </message>
    <message>
        <source>exists, not open: give its passphrase</source>
        <translation>已存在，未打开：请输入其密码</translation>
    </message>
    <message>
        <source>none yet: create one</source>
        <translation>尚无：请创建一个</translation>
    </message>
    <message>
        <source>Recipe</source>
        <translation>配方</translation>
    </message>
    <message>
        <source>Recipes (*.toml)</source>
        <translation>配方 (*.toml)</translation>
    </message>
    <message>
        <source>Recipe refused.</source>
        <translation>配方被拒绝。</translation>
    </message>
    <message>
        <source>Recipe checked: {name}</source>
        <translation>配方已检查：{name}</translation>
    </message>
    <message>
        <source>Recipe in use. Open the CA for it.</source>
        <translation>配方已启用。请为其打开 CA。</translation>
    </message>
    <message>
        <source>Work order set.</source>
        <translation>工单已设置。</translation>
    </message>
    <message>
        <source>The two passphrases differ.</source>
        <translation>两次输入的密码不一致。</translation>
    </message>
    <message>
        <source>Text files (*.txt *.csv);;All files (*)</source>
        <translation>文本文件 (*.txt *.csv);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Looking for probes and ports…</source>
        <translation>正在查找探针和串口…</translation>
    </message>
    <message>
        <source>Found {probes} probe(s) and {ports} serial port(s).</source>
        <translation>找到 {probes} 个探针和 {ports} 个串口。</translation>
    </message>
    <message>
        <source>Slots saved.</source>
        <translation>工位已保存。</translation>
    </message>
    <message>
        <source>Registered.</source>
        <translation>已登记。</translation>
    </message>
</context>
<context>
    <name>HistoryView</name>
    <message>
        <source>Serial</source>
        <translation>序列号</translation>
    </message>
    <message>
        <source>type a serial</source>
        <translation>输入序列号</translation>
    </message>
    <message>
        <source>Result</source>
        <translation>结果</translation>
    </message>
    <message>
        <source>All</source>
        <translation>全部</translation>
    </message>
    <message>
        <source>Passed</source>
        <translation>合格</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>不合格</translation>
    </message>
    <message>
        <source>Needs inspection</source>
        <translation>待检查</translation>
    </message>
    <message>
        <source>In progress</source>
        <translation>进行中</translation>
    </message>
    <message>
        <source>From / to</source>
        <translation>从 / 到</translation>
    </message>
    <message>
        <source>Show</source>
        <translation>显示</translation>
    </message>
</context>
<context>
    <name>LabelsGroup</name>
    <message>
        <source>Labels</source>
        <translation>标签</translation>
    </message>
    <message>
        <source>Retry now</source>
        <translation>立即重试</translation>
    </message>
    <message>
        <source>Serial of a passed unit</source>
        <translation>已通过产品的序列号</translation>
    </message>
    <message>
        <source>Reprint…</source>
        <translation>重新打印…</translation>
    </message>
    <message>
        <source>The labels could not be read: {problem}</source>
        <translation>无法读取标签：{problem}</translation>
    </message>
    <message>
        <source>{count} label(s) pending: the station tries the printer again every half minute.</source>
        <translation>{count} 个标签待打印：工作站每半分钟重试一次打印机。</translation>
    </message>
    <message>
        <source>No label is pending.</source>
        <translation>没有待打印的标签。</translation>
    </message>
    <message>
        <source>not tried yet</source>
        <translation>尚未尝试</translation>
    </message>
    <message>
        <source>since {time}</source>
        <translation>自 {time} 起</translation>
    </message>
    <message>
        <source>Trying the printer…</source>
        <translation>正在尝试打印机…</translation>
    </message>
    <message>
        <source>Give the serial of the unit.</source>
        <translation>请输入产品的序列号。</translation>
    </message>
    <message>
        <source>Print another label for {serial}? It is recorded under your name.</source>
        <translation>为 {serial} 再打印一张标签？此操作将以您的名义记录。</translation>
    </message>
    <message>
        <source>Printing another label for {serial}…</source>
        <translation>正在为 {serial} 再打印一张标签…</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Provisioning station</source>
        <translation>生产配置工作站</translation>
    </message>
    <message>
        <source>Provisioning station {name}</source>
        <translation>生产配置工作站 {name}</translation>
    </message>
    <message>
        <source>TRAINING</source>
        <translation>培训模式</translation>
    </message>
    <message>
        <source>Sign in</source>
        <translation>登录</translation>
    </message>
    <message>
        <source>Log out</source>
        <translation>退出</translation>
    </message>
    <message>
        <source>No sound</source>
        <translation>无声音</translation>
    </message>
    <message>
        <source>Operator</source>
        <translation>操作员</translation>
    </message>
    <message>
        <source>History</source>
        <translation>历史记录</translation>
    </message>
    <message>
        <source>Supervisor</source>
        <translation>主管</translation>
    </message>
    <message>
        <source>Engineer</source>
        <translation>工程师</translation>
    </message>
    <message>
        <source>Reports</source>
        <translation>报表</translation>
    </message>
    <message>
        <source>supervisor</source>
        <translation>主管</translation>
    </message>
    <message>
        <source>engineer</source>
        <translation>工程师</translation>
    </message>
    <message>
        <source>Nobody logged in</source>
        <translation>无人登录</translation>
    </message>
    <message>
        <source>{name} ({role})</source>
        <translation>{name}（{role}）</translation>
    </message>
    <message>
        <source>the operator id window</source>
        <translation>操作员工号窗口</translation>
    </message>
    <message>
        <source>the sign-in window</source>
        <translation>登录窗口</translation>
    </message>
    <message>
        <source>the station</source>
        <translation>工作站</translation>
    </message>
    <message>
        <source>Only an engineer may close the station.</source>
        <translation>只有工程师可以关闭工作站。</translation>
    </message>
    <message>
        <source>Units are still running. Close the station when every slot has a result.</source>
        <translation>仍有产品在处理中。请等所有工位都出结果后再关闭工作站。</translation>
    </message>
</context>
<context>
    <name>OperatorIdDialog</name>
    <message>
        <source>Log in</source>
        <translation>登录</translation>
    </message>
    <message>
        <source>Type your operator id.</source>
        <translation>请输入您的操作员工号。</translation>
    </message>
    <message>
        <source>Operator id</source>
        <translation>操作员工号</translation>
    </message>
</context>
<context>
    <name>OperatorMessages</name>
    <message>
        <source>The unit is locked. It was not touched. Put it aside for a supervisor.</source>
        <translation>产品已锁定，未作任何改动。请放在一边，交给主管处理。</translation>
    </message>
    <message>
        <source>The token vault is locked or empty. Call a supervisor.</source>
        <translation>令牌库已锁定或为空。请呼叫主管。</translation>
    </message>
    <message>
        <source>The line database does not answer: no new unit until it does. Call a supervisor.</source>
        <translation>产线数据库无响应：恢复前不接受新单元。请呼叫主管。</translation>
    </message>
    <message>
        <source>This station and the line database disagree. Call a supervisor.</source>
        <translation>本工作站与产线数据库不一致。请呼叫主管。</translation>
    </message>
    <message>
        <source>No connection to the unit. Check the probe, cable and power.</source>
        <translation>无法连接产品。请检查探针、线缆和电源。</translation>
    </message>
    <message>
        <source>No probe for this slot. Call an engineer.</source>
        <translation>此工位没有探针。请呼叫工程师。</translation>
    </message>
    <message>
        <source>Programming failed. Reseat the unit and scan it again.</source>
        <translation>烧录失败。请重新放好产品，再扫描一次。</translation>
    </message>
    <message>
        <source>Flash check failed. Reseat the unit and scan it again.</source>
        <translation>闪存校验失败。请重新放好产品，再扫描一次。</translation>
    </message>
    <message>
        <source>Credentials could not be written. Scan the unit again.</source>
        <translation>无法写入凭证。请再扫描一次产品。</translation>
    </message>
    <message>
        <source>Locking failed. Put the unit aside for a supervisor.</source>
        <translation>锁定失败。请将产品放在一边，交给主管处理。</translation>
    </message>
    <message>
        <source>The unit does not answer. Check its console cable, then scan it again.</source>
        <translation>产品没有响应。请检查串口线，然后再扫描一次。</translation>
    </message>
    <message>
        <source>The unit answers with garbage. Check its console cable, then scan it again.</source>
        <translation>产品返回乱码。请检查串口线，然后再扫描一次。</translation>
    </message>
    <message>
        <source>The unit refused a command. Put it aside for a supervisor.</source>
        <translation>产品拒绝了命令。请放在一边，交给主管处理。</translation>
    </message>
    <message>
        <source>Activation refused. Put the unit aside for a supervisor.</source>
        <translation>激活被拒绝。请将产品放在一边，交给主管处理。</translation>
    </message>
    <message>
        <source>The unit&apos;s identity is wrong after restart. Put it aside for a supervisor.</source>
        <translation>产品重启后身份不符。请放在一边，交给主管处理。</translation>
    </message>
    <message>
        <source>The unit runs the wrong firmware. Put it aside for a supervisor.</source>
        <translation>产品运行的固件不对。请放在一边，交给主管处理。</translation>
    </message>
    <message>
        <source>This is a development unit. It must never ship: put it in the reject bin.</source>
        <translation>这是开发用产品，绝不能出货：请放入不良品箱。</translation>
    </message>
    <message>
        <source>This unit has already passed. Move it on.</source>
        <translation>此产品已经合格。请传往下一站。</translation>
    </message>
    <message>
        <source>This unit is being provisioned at another station. Leave it there.</source>
        <translation>此产品正在另一个工作站上配置。请留在那里。</translation>
    </message>
    <message>
        <source>This work order is complete. Put the unit aside and call a supervisor.</source>
        <translation>此工单已完成。请将产品放在一边，并呼叫主管。</translation>
    </message>
    <message>
        <source>This board is being provisioned under another label. Put it aside for a supervisor.</source>
        <translation>此电路板正以另一个标签进行配置。请放在一边，交给主管处理。</translation>
    </message>
    <message>
        <source>This board already passed under another label. Put it aside for a supervisor.</source>
        <translation>此电路板已以另一个标签合格。请放在一边，交给主管处理。</translation>
    </message>
    <message>
        <source>This label is not a serial of this product. Scan the serial label.</source>
        <translation>此标签不是本产品的序列号。请扫描序列号标签。</translation>
    </message>
    <message>
        <source>Serial label and unit do not belong together. Put it aside for a supervisor.</source>
        <translation>序列号标签与产品不匹配。请放在一边，交给主管处理。</translation>
    </message>
    <message>
        <source>A step took too long. Scan the unit again.</source>
        <translation>某个步骤超时。请再扫描一次产品。</translation>
    </message>
    <message>
        <source>Erased by rework: a development unit now. It never ships.</source>
        <translation>已通过返工擦除：现为开发用产品，绝不出货。</translation>
    </message>
    <message>
        <source>The station stopped during this unit. Scan it again.</source>
        <translation>处理此产品时工作站中断。请再扫描一次。</translation>
    </message>
    <message>
        <source>The unit may be locked. A supervisor must inspect it.</source>
        <translation>产品可能已锁定。须由主管检查。</translation>
    </message>
    <message>
        <source>The factory CA is not loaded. Call an engineer.</source>
        <translation>工厂 CA 未加载。请呼叫工程师。</translation>
    </message>
    <message>
        <source>The station self-test has not passed this shift. A supervisor must run it first.</source>
        <translation>本班次的工位自检尚未通过。请主管先运行自检。</translation>
    </message>
    <message>
        <source>The station cannot save its records. Call an engineer.</source>
        <translation>工作站无法保存记录。请呼叫工程师。</translation>
    </message>
    <message>
        <source>The unit finished, but its result could not be saved. It is not passed: scan it again.</source>
        <translation>产品已完成，但结果未能保存。它尚未合格：请重新扫描。</translation>
    </message>
    <message>
        <source>Station problem. Call an engineer.</source>
        <translation>工作站故障。请呼叫工程师。</translation>
    </message>
    <message>
        <source>The label printer did not take it. Check that the printer is on, connected and has labels: the label prints once it does.</source>
        <translation>标签打印机未接收。请检查打印机已开机、已连接且有标签纸：恢复后标签会自动打印。</translation>
    </message>
    <message>
        <source>The label cannot be made for this unit. Put the unit aside and call an engineer.</source>
        <translation>无法为该产品生成标签。请将产品放在一边并呼叫工程师。</translation>
    </message>
    <message>
        <source>No serial number could be given to this unit. Put it aside and call a supervisor.</source>
        <translation>无法为此设备分配序列号。请将其放到一边并呼叫主管。</translation>
    </message>
    <message>
        <source>This work order has no serial numbers left. Call a supervisor.</source>
        <translation>此工单的序列号已用完。请呼叫主管。</translation>
    </message>
    <message>
        <source>This station has no serial numbers left and the line database does not answer. Call a supervisor.</source>
        <translation>本工位的序列号已用完，且产线数据库无响应。请呼叫主管。</translation>
    </message>
    <message>
        <source>The unit failed. Put it aside for a supervisor.</source>
        <translation>产品不合格。请放在一边，交给主管处理。</translation>
    </message>
    <message>
        <source>This unit is being provisioned at {where}. Leave it there and take the next unit.</source>
        <translation>此产品正在 {where} 配置。请留在那里，取下一个产品。</translation>
    </message>
    <message>
        <source>Label printed.</source>
        <translation>标签已打印。</translation>
    </message>
    <message>
        <source>No label: {why}</source>
        <translation>无标签：{why}</translation>
    </message>
    <message>
        <source>LABEL PENDING. {why}</source>
        <translation>标签待打印。{why}</translation>
    </message>
    <message>
        <source>Connect</source>
        <translation>连接</translation>
    </message>
    <message>
        <source>Program</source>
        <translation>烧录</translation>
    </message>
    <message>
        <source>Verify</source>
        <translation>校验</translation>
    </message>
    <message>
        <source>Credentials</source>
        <translation>凭证</translation>
    </message>
    <message>
        <source>Lock</source>
        <translation>锁定</translation>
    </message>
    <message>
        <source>Activate</source>
        <translation>激活</translation>
    </message>
    <message>
        <source>Identity check</source>
        <translation>身份检查</translation>
    </message>
    <message>
        <source>Scan</source>
        <translation>扫描</translation>
    </message>
    <message>
        <source>Rework erase</source>
        <translation>返工擦除</translation>
    </message>
    <message>
        <source>Recovery</source>
        <translation>恢复</translation>
    </message>
    <message>
        <source>Station</source>
        <translation>工作站</translation>
    </message>
    <message>
        <source>PASS</source>
        <translation>合格</translation>
    </message>
    <message>
        <source>FAIL</source>
        <translation>不合格</translation>
    </message>
    <message>
        <source>ERASED</source>
        <translation>已擦除</translation>
    </message>
</context>
<context>
    <name>OperatorView</name>
    <message>
        <source>Passed</source>
        <translation>合格</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>不合格</translation>
    </message>
    <message>
        <source>First-pass yield</source>
        <translation>直通率</translation>
    </message>
    <message>
        <source>Units per hour</source>
        <translation>每小时产量</translation>
    </message>
    <message>
        <source>Scan your badge</source>
        <translation>请扫描工牌</translation>
    </message>
    <message>
        <source>Scan your badge to start. No badge? Type your id.</source>
        <translation>扫描工牌即可开始。没有工牌？请输入工号。</translation>
    </message>
    <message>
        <source>Type my id</source>
        <translation>输入工号</translation>
    </message>
    <message>
        <source>Supervisor / engineer</source>
        <translation>主管 / 工程师</translation>
    </message>
    <message>
        <source>No recipe</source>
        <translation>未选择配方</translation>
    </message>
    <message>
        <source>{product}  ·  firmware {version}</source>
        <translation>{product}  ·  固件 {version}</translation>
    </message>
    <message>
        <source>Work order {code}: units without a label, serials from its rule</source>
        <translation>工单 {code}：设备无标签，序列号按其规则分配</translation>
    </message>
    <message>
        <source>Work order {code}</source>
        <translation>工单 {code}</translation>
    </message>
    <message>
        <source>No work order</source>
        <translation>无工单</translation>
    </message>
</context>
<context>
    <name>PinDialog</name>
    <message>
        <source>Confirm with your PIN</source>
        <translation>请用 PIN 码确认</translation>
    </message>
    <message>
        <source>PIN</source>
        <translation>PIN 码</translation>
    </message>
</context>
<context>
    <name>ReportsView</name>
    <message>
        <source>Filter</source>
        <translation>筛选</translation>
    </message>
    <message>
        <source>Work order</source>
        <translation>工单</translation>
    </message>
    <message>
        <source>Product</source>
        <translation>产品型号</translation>
    </message>
    <message>
        <source>Recipe (SHA-256)</source>
        <translation>配方（SHA-256）</translation>
    </message>
    <message>
        <source>Station</source>
        <translation>工作站</translation>
    </message>
    <message>
        <source>Operator</source>
        <translation>操作员</translation>
    </message>
    <message>
        <source>Started from</source>
        <translation>开始时间不早于</translation>
    </message>
    <message>
        <source>Started before</source>
        <translation>开始时间早于</translation>
    </message>
    <message>
        <source>Result</source>
        <translation>结果</translation>
    </message>
    <message>
        <source>Serials (one a line)</source>
        <translation>序列号（每行一个）</translation>
    </message>
    <message>
        <source>Local time</source>
        <translation>本地时间</translation>
    </message>
    <message>
        <source>any</source>
        <translation>任意</translation>
    </message>
    <message>
        <source>In progress</source>
        <translation>进行中</translation>
    </message>
    <message>
        <source>Passed</source>
        <translation>合格</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>不合格</translation>
    </message>
    <message>
        <source>Needs inspection</source>
        <translation>待检查</translation>
    </message>
    <message>
        <source>Refresh</source>
        <translation>刷新</translation>
    </message>
    <message>
        <source>Clear filter</source>
        <translation>清除筛选</translation>
    </message>
    <message>
        <source>Yield</source>
        <translation>良率</translation>
    </message>
    <message>
        <source>Attempts</source>
        <translation>尝试次数</translation>
    </message>
    <message>
        <source>Units</source>
        <translation>产品数</translation>
    </message>
    <message>
        <source>First-pass yield</source>
        <translation>直通率</translation>
    </message>
    <message>
        <source>Final yield</source>
        <translation>最终良率</translation>
    </message>
    <message>
        <source>Attempts per unit</source>
        <translation>每个产品的尝试次数</translation>
    </message>
    <message>
        <source>Units per hour</source>
        <translation>每小时产量</translation>
    </message>
    <message>
        <source>Failures</source>
        <translation>失败次数</translation>
    </message>
    <message>
        <source>Golden units (left out)</source>
        <translation>黄金参考单元（不计入）</translation>
    </message>
    <message>
        <source>Failure Pareto</source>
        <translation>失败帕累托图</translation>
    </message>
    <message>
        <source>Cycle time per step</source>
        <translation>各步骤周期时间</translation>
    </message>
    <message>
        <source>Failures by code</source>
        <translation>按代码统计的失败</translation>
    </message>
    <message>
        <source>Time per step (seconds)</source>
        <translation>各步骤用时（秒）</translation>
    </message>
    <message>
        <source>Signed export</source>
        <translation>签名导出</translation>
    </message>
    <message>
        <source>Export CSV…</source>
        <translation>导出 CSV…</translation>
    </message>
    <message>
        <source>Export JSON…</source>
        <translation>导出 JSON…</translation>
    </message>
    <message>
        <source>Export PDF report…</source>
        <translation>导出 PDF 报告…</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Open</source>
        <translation>打开</translation>
    </message>
    <message>
        <source>Computing…</source>
        <translation>正在计算…</translation>
    </message>
    <message>
        <source>{units} units, {attempts} attempts</source>
        <translation>{units} 个单元，{attempts} 次尝试</translation>
    </message>
    <message>
        <source>Updated {time}</source>
        <translation>更新于 {time}</translation>
    </message>
    <message>
        <source>The figures could not be computed: {message}</source>
        <translation>无法计算数据：{message}</translation>
    </message>
    <message>
        <source>failures</source>
        <translation>失败次数</translation>
    </message>
    <message>
        <source>cumulative %</source>
        <translation>累计 %</translation>
    </message>
    <message>
        <source>no failures</source>
        <translation>无失败</translation>
    </message>
    <message>
        <source>median</source>
        <translation>中位数</translation>
    </message>
    <message>
        <source>95th percentile</source>
        <translation>第 95 百分位</translation>
    </message>
    <message>
        <source>no finished steps</source>
        <translation>没有已完成的步骤</translation>
    </message>
    <message>
        <source>CSV (*.csv)</source>
        <translation>CSV 文件 (*.csv)</translation>
    </message>
    <message>
        <source>NDJSON (*.ndjson *.json)</source>
        <translation>NDJSON 文件 (*.ndjson *.json)</translation>
    </message>
    <message>
        <source>PDF (*.pdf)</source>
        <translation>PDF 文件 (*.pdf)</translation>
    </message>
    <message>
        <source>Export to</source>
        <translation>导出到</translation>
    </message>
    <message>
        <source>An export is already running.</source>
        <translation>已有导出正在进行。</translation>
    </message>
    <message>
        <source>Exporting to {path}…</source>
        <translation>正在导出到 {path}…</translation>
    </message>
    <message>
        <source>Cancelling…</source>
        <translation>正在取消…</translation>
    </message>
    <message>
        <source>Wrote {count} attempts to {path}, signed ({manifest}, {signature}).</source>
        <translation>已将 {count} 次尝试写入 {path}，并已签名（{manifest}，{signature}）。</translation>
    </message>
    <message>
        <source>The export failed: {message}</source>
        <translation>导出失败：{message}</translation>
    </message>
    <message>
        <source>Export cancelled; nothing was written.</source>
        <translation>导出已取消，未写入任何内容。</translation>
    </message>
</context>
<context>
    <name>SignInDialog</name>
    <message>
        <source>Register the first engineer</source>
        <translation>登记第一位工程师</translation>
    </message>
    <message>
        <source>This station has no engineer yet. Choose your name and a PIN of 4 to 12 digits.</source>
        <translation>此工作站还没有工程师。请设置您的名字和 4 到 12 位数字的 PIN 码。</translation>
    </message>
    <message>
        <source>Supervisor or engineer sign-in</source>
        <translation>主管或工程师登录</translation>
    </message>
    <message>
        <source>Scan your badge or type your name, then type your PIN.</source>
        <translation>请扫描工牌或输入名字，然后输入 PIN 码。</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>名字</translation>
    </message>
    <message>
        <source>PIN</source>
        <translation>PIN 码</translation>
    </message>
    <message>
        <source>PIN again</source>
        <translation>再次输入 PIN 码</translation>
    </message>
    <message>
        <source>The two PINs differ.</source>
        <translation>两次输入的 PIN 码不一致。</translation>
    </message>
</context>
<context>
    <name>SlotLogPanel</name>
    <message>
        <source>Slots now: each slot&apos;s latest step or console line</source>
        <translation>工位实时：每个工位最新的步骤或串口输出</translation>
    </message>
    <message>
        <source>Slot {name}</source>
        <translation>工位 {name}</translation>
    </message>
    <message>
        <source>no unit yet</source>
        <translation>尚无产品</translation>
    </message>
    <message>
        <source>{step}: started</source>
        <translation>{step}：开始</translation>
    </message>
    <message>
        <source>{step}: passed</source>
        <translation>{step}：通过</translation>
    </message>
    <message>
        <source>{step}: failed</source>
        <translation>{step}：失败</translation>
    </message>
    <message>
        <source>{step}: skipped</source>
        <translation>{step}：跳过</translation>
    </message>
    <message>
        <source>console</source>
        <translation>串口</translation>
    </message>
    <message>
        <source>result</source>
        <translation>结果</translation>
    </message>
</context>
<context>
    <name>SlotTile</name>
    <message>
        <source>Slot {name}</source>
        <translation>工位 {name}</translation>
    </message>
    <message>
        <source>Next scan →</source>
        <translation>下次扫描 →</translation>
    </message>
    <message>
        <source>Ready. Put a unit in and scan this slot&apos;s fixture label.</source>
        <translation>就绪。放入设备并扫描此工位夹具上的标签。</translation>
    </message>
    <message>
        <source>Ready. Scan a unit, or press Simulate scan.</source>
        <translation>就绪。请扫描产品，或按“模拟扫描”。</translation>
    </message>
    <message>
        <source>Ready. Scan a unit.</source>
        <translation>就绪。请扫描产品。</translation>
    </message>
    <message>
        <source>Device {device_id}</source>
        <translation>设备 {device_id}</translation>
    </message>
    <message>
        <source>Move the unit on.</source>
        <translation>请传往下一站。</translation>
    </message>
    <message>
        <source>Code {code} at step {step}</source>
        <translation>代码 {code}，步骤：{step}</translation>
    </message>
    <message>
        <source>Code {code}</source>
        <translation>代码 {code}</translation>
    </message>
</context>
<context>
    <name>StationLine</name>
    <message>
        <source>No recipe is chosen. Call an engineer.</source>
        <translation>未选择配方。请呼叫工程师。</translation>
    </message>
    <message>
        <source>The token vault is locked. A supervisor must unlock it for the shift.</source>
        <translation>令牌库已锁定。须由主管为本班次解锁。</translation>
    </message>
    <message>
        <source>No slot is set up. Call an engineer.</source>
        <translation>未设置工位。请呼叫工程师。</translation>
    </message>
    <message>
        <source>The station is checking unfinished units. Wait a moment.</source>
        <translation>工作站正在检查未完成的产品。请稍候。</translation>
    </message>
    <message>
        <source>This label is not a serial of this product (read: {scan}). Scan the serial label.</source>
        <translation>此标签不是本产品的序列号（读到：{scan}）。请扫描序列号标签。</translation>
    </message>
    <message>
        <source>This computer cannot play the station&apos;s sounds. Watch the screen for results, and tell an engineer.</source>
        <translation>此电脑无法播放工作站的提示音。请留意屏幕上的结果，并告知工程师。</translation>
    </message>
    <message>
        <source>Something went wrong in {where} ({what}). The station keeps running: try again, and call an engineer if it happens again. The log has the details.</source>
        <translation>{where}出现问题（{what}）。工作站仍在运行：请重试，如果再次发生，请呼叫工程师。详情见日志。</translation>
    </message>
    <message>
        <source>Slot {slot} chosen: now scan the unit.</source>
        <translation>已选择工位 {slot}：请扫描产品。</translation>
    </message>
    <message>
        <source>Unknown badge. Ask a supervisor to register you.</source>
        <translation>未知工牌。请让主管为您登记。</translation>
    </message>
    <message>
        <source>Scan your badge first.</source>
        <translation>请先扫描工牌。</translation>
    </message>
    <message>
        <source>Typing does not start a unit: scan the unit&apos;s label.</source>
        <translation>手动输入不能启动产品：请扫描产品标签。</translation>
    </message>
    <message>
        <source>This unit is already running in slot {slot}.</source>
        <translation>此产品已在工位 {slot} 中处理。</translation>
    </message>
    <message>
        <source>Slot {slot} is still working. Wait for its result.</source>
        <translation>工位 {slot} 仍在处理中。请等待结果。</translation>
    </message>
    <message>
        <source>All slots are working. Wait for a result.</source>
        <translation>所有工位都在处理中。请等待结果。</translation>
    </message>
    <message>
        <source>The recipe was refused. Call an engineer.</source>
        <translation>配方被拒绝。请呼叫工程师。</translation>
    </message>
    <message>
        <source>Choose a recipe first.</source>
        <translation>请先选择配方。</translation>
    </message>
    <message>
        <source>The factory CA is open.</source>
        <translation>工厂 CA 已打开。</translation>
    </message>
    <message>
        <source>A unit needs inspection by a supervisor after a restart.</source>
        <translation>重启后有产品需要主管检查。</translation>
    </message>
    <message>
        <source>The token vault is unlocked for this shift.</source>
        <translation>令牌库已为本班次解锁。</translation>
    </message>
    <message>
        <source>The factory CA was created. Choose a recipe, then open the CA.</source>
        <translation>工厂 CA 已创建。请选择配方，然后打开 CA。</translation>
    </message>
    <message>
        <source>{added} new token(s) imported for {product}.</source>
        <translation>已为 {product} 导入 {added} 个新令牌。</translation>
    </message>
    <message>
        <source>Self-test passed on golden unit {serial}: the station may start units.</source>
        <translation>黄金样机 {serial} 自检通过：工位可以开始生产。</translation>
    </message>
    <message>
        <source>Self-test FAILED on golden unit {serial}. Call an engineer.</source>
        <translation>黄金样机 {serial} 自检失败。请联系工程师。</translation>
    </message>
    <message>
        <source>No label is pending.</source>
        <translation>没有待打印的标签。</translation>
    </message>
    <message>
        <source>{printed} label(s) printed, {waiting} still pending.</source>
        <translation>已打印 {printed} 个标签，仍有 {waiting} 个待打印。</translation>
    </message>
    <message>
        <source>Another label for {serial} was printed.</source>
        <translation>已为 {serial} 再打印一张标签。</translation>
    </message>
    <message>
        <source>The reprint of {serial} is recorded but the printer did not take it: it is pending.</source>
        <translation>{serial} 的重新打印已记录，但打印机未接收：仍待打印。</translation>
    </message>
</context>
<context>
    <name>SupervisorView</name>
    <message>
        <source>Token vault</source>
        <translation>令牌库</translation>
    </message>
    <message>
        <source>State</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Vault passphrase</source>
        <translation>令牌库密码</translation>
    </message>
    <message>
        <source>Line database</source>
        <translation>产线数据库</translation>
    </message>
    <message>
        <source>Unlock for the shift</source>
        <translation>为本班次解锁</translation>
    </message>
    <message>
        <source>Lock</source>
        <translation>锁定</translation>
    </message>
    <message>
        <source>Rework</source>
        <translation>返工</translation>
    </message>
    <message>
        <source>Rework erases the unit in the chosen slot, its lock and credentials included. The unit becomes a development unit and never ships. Put the unit in the slot, then confirm with your PIN.</source>
        <translation>返工会擦除所选工位中的产品，包括其锁定和凭证。该产品将成为开发用产品，绝不出货。请将产品放入工位，然后用您的 PIN 码确认。</translation>
    </message>
    <message>
        <source>Serial</source>
        <translation>序列号</translation>
    </message>
    <message>
        <source>Slot</source>
        <translation>工位</translation>
    </message>
    <message>
        <source>Erase the unit (rework)…</source>
        <translation>擦除产品（返工）…</translation>
    </message>
    <message>
        <source>Units to inspect after a restart</source>
        <translation>重启后需检查的产品</translation>
    </message>
    <message>
        <source>What did the inspection find?</source>
        <translation>检查结果是什么？</translation>
    </message>
    <message>
        <source>Acknowledge…</source>
        <translation>确认…</translation>
    </message>
    <message>
        <source>Golden reference units (left out of yield)</source>
        <translation>黄金参考单元（不计入良率）</translation>
    </message>
    <message>
        <source>Serial of the reference unit</source>
        <translation>参考单元的序列号</translation>
    </message>
    <message>
        <source>Mark golden…</source>
        <translation>标记为黄金单元…</translation>
    </message>
    <message>
        <source>Unmark…</source>
        <translation>取消标记…</translation>
    </message>
    <message>
        <source>Station self-test (start of a shift)</source>
        <translation>工位自检（班次开始）</translation>
    </message>
    <message>
        <source>Put the golden unit in a free slot. The station reads its device id, images, lock and console and compares them with what was recorded when it was marked golden. A recipe that requires the self-test refuses units until it passes.</source>
        <translation>将黄金样机放入空闲工位。工位读取其设备ID、固件映像、锁定状态和控制台，并与标记为黄金样机时的记录比较。要求自检的配方在自检通过前拒绝生产。</translation>
    </message>
    <message>
        <source>Golden unit</source>
        <translation>黄金样机</translation>
    </message>
    <message>
        <source>Serial (empty: the recipe&apos;s golden unit)</source>
        <translation>序列号（留空：配方中的黄金样机）</translation>
    </message>
    <message>
        <source>Run the station self-test</source>
        <translation>运行工位自检</translation>
    </message>
    <message>
        <source>locked; its key is in the token: unlock needs no passphrase</source>
        <translation>已锁定；密钥在令牌中：解锁无需口令</translation>
    </message>
    <message>
        <source>none: this station&apos;s records are its own</source>
        <translation>无：本工作站的记录仅归本站</translation>
    </message>
    <message>
        <source>CONFLICT, forwarding stopped: {detail}</source>
        <translation>冲突，已停止转发：{detail}</translation>
    </message>
    <message>
        <source>connected, {count} entries to forward</source>
        <translation>已连接，{count} 条记录待转发</translation>
    </message>
    <message>
        <source>connected, all forwarded</source>
        <translation>已连接，全部已转发</translation>
    </message>
    <message>
        <source>offline since {time} UTC, {count} entries waiting</source>
        <translation>自 {time} UTC 起离线，{count} 条记录等待中</translation>
    </message>
    <message>
        <source>not reached yet</source>
        <translation>尚未连接</translation>
    </message>
    <message>
        <source>{count} conflict(s) between stations to inspect (station line conflicts)</source>
        <translation>{count} 个工作站间冲突待检查（station line conflicts）</translation>
    </message>
    <message>
        <source>Units of this recipe are locked for good (a permanent lock): no erase reopens them, so they can never be reworked.</source>
        <translation>此配方的单元被永久锁定（永久锁）：任何擦除都无法重新打开它们，因此永远无法返工。</translation>
    </message>
    <message>
        <source>Give the serial of the unit.</source>
        <translation>请输入产品的序列号。</translation>
    </message>
    <message>
        <source>Mark {serial} as a golden reference unit?</source>
        <translation>将 {serial} 标记为黄金参考单元？</translation>
    </message>
    <message>
        <source>Unmark {serial} as a golden reference unit?</source>
        <translation>取消 {serial} 的黄金参考单元标记？</translation>
    </message>
    <message>
        <source>{serial} is a golden unit.</source>
        <translation>{serial} 是黄金单元。</translation>
    </message>
    <message>
        <source>{serial} is no longer a golden unit.</source>
        <translation>{serial} 不再是黄金单元。</translation>
    </message>
    <message>
        <source>Choose the slot of the golden unit.</source>
        <translation>请选择黄金样机所在的工位。</translation>
    </message>
    <message>
        <source>Self-test running in slot {slot}…</source>
        <translation>工位 {slot} 正在自检…</translation>
    </message>
    <message>
        <source>unlocked</source>
        <translation>已解锁</translation>
    </message>
    <message>
        <source>locked</source>
        <translation>已锁定</translation>
    </message>
    <message>
        <source>Give the serial and the slot.</source>
        <translation>请填写序列号和工位。</translation>
    </message>
    <message>
        <source>Erase unit {serial} in slot {slot}? It will never ship.</source>
        <translation>擦除工位 {slot} 中的产品 {serial}？它将永远不能出货。</translation>
    </message>
    <message>
        <source>Rework started in slot {slot}.</source>
        <translation>工位 {slot} 已开始返工。</translation>
    </message>
    <message>
        <source>Choose a unit in the list.</source>
        <translation>请在列表中选择一个产品。</translation>
    </message>
    <message>
        <source>Say what the inspection found.</source>
        <translation>请说明检查发现了什么。</translation>
    </message>
    <message>
        <source>Record the inspection of attempt {attempt}?</source>
        <translation>记录第 {attempt} 次尝试的检查结果？</translation>
    </message>
    <message>
        <source>Recorded.</source>
        <translation>已记录。</translation>
    </message>
</context>
</TS>
