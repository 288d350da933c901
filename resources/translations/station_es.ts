<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="es" sourcelanguage="en">
<context>
    <name>AttemptHistoryModel</name>
    <message>
        <source>Started</source>
        <translation>Inicio</translation>
    </message>
    <message>
        <source>Serial</source>
        <translation>Número de serie</translation>
    </message>
    <message>
        <source>Result</source>
        <translation>Resultado</translation>
    </message>
    <message>
        <source>Failed step</source>
        <translation>Paso fallido</translation>
    </message>
    <message>
        <source>Code</source>
        <translation>Código</translation>
    </message>
    <message>
        <source>Operator</source>
        <translation>Operador</translation>
    </message>
    <message>
        <source>Device id</source>
        <translation>Id. de dispositivo</translation>
    </message>
    <message>
        <source>Work order</source>
        <translation>Orden de trabajo</translation>
    </message>
    <message>
        <source>Attempt</source>
        <translation>Intento</translation>
    </message>
    <message>
        <source>Passed</source>
        <translation>Aprobado</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>Fallido</translation>
    </message>
    <message>
        <source>Needs inspection</source>
        <translation>Requiere inspección</translation>
    </message>
    <message>
        <source>In progress</source>
        <translation>En curso</translation>
    </message>
    <message>
        <source> (rework)</source>
        <translation> (retrabajo)</translation>
    </message>
</context>
<context>
    <name>DemoBar</name>
    <message>
        <source>Training mode: simulated units</source>
        <translation>Modo de formación: unidades simuladas</translation>
    </message>
    <message>
        <source>Simulate scan</source>
        <translation>Simular escaneo</translation>
    </message>
    <message>
        <source>Simulate badge scan</source>
        <translation>Simular escaneo de tarjeta</translation>
    </message>
    <message>
        <source>Scan again</source>
        <translation>Escanear otra vez</translation>
    </message>
    <message>
        <source>Faults</source>
        <translation>Fallos</translation>
    </message>
    <message>
        <source>Drop flash writes</source>
        <translation>Perder escrituras de flash</translation>
    </message>
    <message>
        <source>Silent console</source>
        <translation>Consola muda</translation>
    </message>
    <message>
        <source>Next unit arrives locked</source>
        <translation>La próxima unidad llega bloqueada</translation>
    </message>
    <message>
        <source>Flash algorithm hangs</source>
        <translation>El algoritmo de flash se cuelga</translation>
    </message>
    <message>
        <source>Slot {slot}: {serial}</source>
        <translation>Posición {slot}: {serial}</translation>
    </message>
    <message>
        <source>No unit scanned yet</source>
        <translation>Aún no se ha escaneado ninguna unidad</translation>
    </message>
    <message>
        <source>Slot {slot}</source>
        <translation>Posición {slot}</translation>
    </message>
    <message>
        <source>Clear faults</source>
        <translation>Quitar fallos</translation>
    </message>
    <message>
        <source>Slot {slot}: {faults}</source>
        <translation>Posición {slot}: {faults}</translation>
    </message>
</context>
<context>
    <name>Dialogs</name>
    <message>
        <source>This did not work: a station problem. Try again, or call an engineer.</source>
        <translation>No funcionó: un problema de la estación. Inténtelo otra vez o llame a un ingeniero.</translation>
    </message>
</context>
<context>
    <name>EngineerView</name>
    <message>
        <source>Recipe and work order</source>
        <translation>Receta y orden de trabajo</translation>
    </message>
    <message>
        <source>Check a recipe file…</source>
        <translation>Comprobar un archivo de receta…</translation>
    </message>
    <message>
        <source>Use this recipe</source>
        <translation>Usar esta receta</translation>
    </message>
    <message>
        <source>Work order</source>
        <translation>Orden de trabajo</translation>
    </message>
    <message>
        <source>Set</source>
        <translation>Aplicar</translation>
    </message>
    <message>
        <source>Factory CA</source>
        <translation>CA de fábrica</translation>
    </message>
    <message>
        <source>State</source>
        <translation>Estado</translation>
    </message>
    <message>
        <source>Name (new CA)</source>
        <translation>Nombre (CA nueva)</translation>
    </message>
    <message>
        <source>CA passphrase</source>
        <translation>Contraseña de la CA</translation>
    </message>
    <message>
        <source>Again (new CA)</source>
        <translation>Repetir (CA nueva)</translation>
    </message>
    <message>
        <source>Open CA</source>
        <translation>Abrir CA</translation>
    </message>
    <message>
        <source>Create CA</source>
        <translation>Crear CA</translation>
    </message>
    <message>
        <source>Activation tokens</source>
        <translation>Tokens de activación</translation>
    </message>
    <message>
        <source>Token file</source>
        <translation>Archivo de tokens</translation>
    </message>
    <message>
        <source>Browse…</source>
        <translation>Examinar…</translation>
    </message>
    <message>
        <source>Product</source>
        <translation>Producto</translation>
    </message>
    <message>
        <source>Uses per token</source>
        <translation>Usos por token</translation>
    </message>
    <message>
        <source>no limit</source>
        <translation>sin límite</translation>
    </message>
    <message>
        <source>Vault passphrase</source>
        <translation>Contraseña del almacén</translation>
    </message>
    <message>
        <source>Import tokens</source>
        <translation>Importar tokens</translation>
    </message>
    <message>
        <source>Slots</source>
        <translation>Posiciones</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Nombre</translation>
    </message>
    <message>
        <source>Probe</source>
        <translation>Sonda</translation>
    </message>
    <message>
        <source>Console port</source>
        <translation>Puerto de consola</translation>
    </message>
    <message>
        <source>Fixture label</source>
        <translation>Etiqueta del utillaje</translation>
    </message>
    <message>
        <source>Add slot</source>
        <translation>Añadir posición</translation>
    </message>
    <message>
        <source>Remove slot</source>
        <translation>Quitar posición</translation>
    </message>
    <message>
        <source>Find probes and ports</source>
        <translation>Buscar sondas y puertos</translation>
    </message>
    <message>
        <source>Save slots</source>
        <translation>Guardar posiciones</translation>
    </message>
    <message>
        <source>People</source>
        <translation>Personas</translation>
    </message>
    <message>
        <source>Name / badge id</source>
        <translation>Nombre / n.º de tarjeta</translation>
    </message>
    <message>
        <source>Role</source>
        <translation>Rol</translation>
    </message>
    <message>
        <source>PIN (supervisor, engineer)</source>
        <translation>PIN (supervisor, ingeniero)</translation>
    </message>
    <message>
        <source>Register</source>
        <translation>Registrar</translation>
    </message>
    <message>
        <source>In use: {path}</source>
        <translation>En uso: {path}</translation>
    </message>
    <message>
        <source>Refused: {problem}</source>
        <translation>Rechazada: {problem}</translation>
    </message>
    <message>
        <source>No recipe chosen.</source>
        <translation>No hay receta elegida.</translation>
    </message>
    <message>
        <source>open for this recipe</source>
        <translation>abierta para esta receta</translation>
    </message>
    <message>
        <source>its key is in the token, not open: open it (the token&apos;s PIN comes from the station&apos;s PIN file)</source>
        <translation>su clave está en el token, sin abrir: ábrala (el PIN del token viene del archivo de PIN de la estación)</translation>
    </message>
    <message>
        <source>exists, not open: give its passphrase</source>
        <translation>existe, sin abrir: indique su contraseña</translation>
    </message>
    <message>
        <source>none yet: create one</source>
        <translation>aún no hay: cree una</translation>
    </message>
    <message>
        <source>Recipe</source>
        <translation>Receta</translation>
    </message>
    <message>
        <source>Recipes (*.toml)</source>
        <translation>Recetas (*.toml)</translation>
    </message>
    <message>
        <source>Recipe refused.</source>
        <translation>Receta rechazada.</translation>
    </message>
    <message>
        <source>Recipe checked: {name}</source>
        <translation>Receta comprobada: {name}</translation>
    </message>
    <message>
        <source>Recipe in use. Open the CA for it.</source>
        <translation>Receta en uso. Abra la CA para ella.</translation>
    </message>
    <message>
        <source>Work order set.</source>
        <translation>Orden de trabajo aplicada.</translation>
    </message>
    <message>
        <source>The two passphrases differ.</source>
        <translation>Las dos contraseñas no coinciden.</translation>
    </message>
    <message>
        <source>Text files (*.txt *.csv);;All files (*)</source>
        <translation>Archivos de texto (*.txt *.csv);;Todos los archivos (*)</translation>
    </message>
    <message>
        <source>Looking for probes and ports…</source>
        <translation>Buscando sondas y puertos…</translation>
    </message>
    <message>
        <source>Found {probes} probe(s) and {ports} serial port(s).</source>
        <translation>Se encontraron {probes} sonda(s) y {ports} puerto(s) serie.</translation>
    </message>
    <message>
        <source>Slots saved.</source>
        <translation>Posiciones guardadas.</translation>
    </message>
    <message>
        <source>Registered.</source>
        <translation>Registrado.</translation>
    </message>
</context>
<context>
    <name>HistoryView</name>
    <message>
        <source>Serial</source>
        <translation>Número de serie</translation>
    </message>
    <message>
        <source>type a serial</source>
        <translation>escriba un número de serie</translation>
    </message>
    <message>
        <source>Result</source>
        <translation>Resultado</translation>
    </message>
    <message>
        <source>All</source>
        <translation>Todos</translation>
    </message>
    <message>
        <source>Passed</source>
        <translation>Aprobados</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>Fallidos</translation>
    </message>
    <message>
        <source>Needs inspection</source>
        <translation>Requiere inspección</translation>
    </message>
    <message>
        <source>In progress</source>
        <translation>En curso</translation>
    </message>
    <message>
        <source>From / to</source>
        <translation>Desde / hasta</translation>
    </message>
    <message>
        <source>Show</source>
        <translation>Mostrar</translation>
    </message>
</context>
<context>
    <name>LabelsGroup</name>
    <message>
        <source>Labels</source>
        <translation>Etiquetas</translation>
    </message>
    <message>
        <source>Retry now</source>
        <translation>Reintentar ahora</translation>
    </message>
    <message>
        <source>Serial of a passed unit</source>
        <translation>Número de serie de una unidad aprobada</translation>
    </message>
    <message>
        <source>Reprint…</source>
        <translation>Reimprimir…</translation>
    </message>
    <message>
        <source>The labels could not be read: {problem}</source>
        <translation>No se pudieron leer las etiquetas: {problem}</translation>
    </message>
    <message>
        <source>{count} label(s) pending: the station tries the printer again every half minute.</source>
        <translation>{count} etiqueta(s) pendiente(s): la estación vuelve a intentar con la impresora cada medio minuto.</translation>
    </message>
    <message>
        <source>No label is pending.</source>
        <translation>No hay ninguna etiqueta pendiente.</translation>
    </message>
    <message>
        <source>not tried yet</source>
        <translation>aún no intentada</translation>
    </message>
    <message>
        <source>since {time}</source>
        <translation>desde {time}</translation>
    </message>
    <message>
        <source>Trying the printer…</source>
        <translation>Probando la impresora…</translation>
    </message>
    <message>
        <source>Give the serial of the unit.</source>
        <translation>Indique el número de serie de la unidad.</translation>
    </message>
    <message>
        <source>Print another label for {serial}? It is recorded under your name.</source>
        <translation>¿Imprimir otra etiqueta para {serial}? Queda registrado con su nombre.</translation>
    </message>
    <message>
        <source>Printing another label for {serial}…</source>
        <translation>Imprimiendo otra etiqueta para {serial}…</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Provisioning station</source>
        <translation>Estación de aprovisionamiento</translation>
    </message>
    <message>
        <source>Provisioning station {name}</source>
        <translation>Estación de aprovisionamiento {name}</translation>
    </message>
    <message>
        <source>TRAINING</source>
        <translation>FORMACIÓN</translation>
    </message>
    <message>
        <source>Sign in</source>
        <translation>Iniciar sesión</translation>
    </message>
    <message>
        <source>Log out</source>
        <translation>Cerrar sesión</translation>
    </message>
    <message>
        <source>No sound</source>
        <translation>Sin sonido</translation>
    </message>
    <message>
        <source>Operator</source>
        <translation>Operador</translation>
    </message>
    <message>
        <source>History</source>
        <translation>Historial</translation>
    </message>
    <message>
        <source>Supervisor</source>
        <translation>Supervisor</translation>
    </message>
    <message>
        <source>Engineer</source>
        <translation>Ingeniero</translation>
    </message>
    <message>
        <source>Reports</source>
        <translation>Informes</translation>
    </message>
    <message>
        <source>supervisor</source>
        <translation>supervisor</translation>
    </message>
    <message>
        <source>engineer</source>
        <translation>ingeniero</translation>
    </message>
    <message>
        <source>Nobody logged in</source>
        <translation>Nadie ha iniciado sesión</translation>
    </message>
    <message>
        <source>{name} ({role})</source>
        <translation>{name} ({role})</translation>
    </message>
    <message>
        <source>the operator id window</source>
        <translation>la ventana del número de operador</translation>
    </message>
    <message>
        <source>the sign-in window</source>
        <translation>la ventana de inicio de sesión</translation>
    </message>
    <message>
        <source>the station</source>
        <translation>la estación</translation>
    </message>
    <message>
        <source>Only an engineer may close the station.</source>
        <translation>Solo un ingeniero puede cerrar la estación.</translation>
    </message>
    <message>
        <source>Units are still running. Close the station when every slot has a result.</source>
        <translation>Aún hay unidades en marcha. Cierre la estación cuando todas las posiciones tengan resultado.</translation>
    </message>
</context>
<context>
    <name>OperatorIdDialog</name>
    <message>
        <source>Log in</source>
        <translation>Iniciar sesión</translation>
    </message>
    <message>
        <source>Type your operator id.</source>
        <translation>Escriba su número de operador.</translation>
    </message>
    <message>
        <source>Operator id</source>
        <translation>Número de operador</translation>
    </message>
</context>
<context>
    <name>OperatorMessages</name>
    <message>
        <source>The unit is locked. It was not touched. Put it aside for a supervisor.</source>
        <translation>La unidad está bloqueada. No se ha tocado. Apártela para un supervisor.</translation>
    </message>
    <message>
        <source>The token vault is locked or empty. Call a supervisor.</source>
        <translation>El almacén de tokens está bloqueado o vacío. Llame a un supervisor.</translation>
    </message>
    <message>
        <source>The line database does not answer: no new unit until it does. Call a supervisor.</source>
        <translation>La base de datos de la línea no responde: ninguna unidad nueva hasta que responda. Llame a un supervisor.</translation>
    </message>
    <message>
        <source>This station and the line database disagree. Call a supervisor.</source>
        <translation>Esta estación y la base de datos de la línea no coinciden. Llame a un supervisor.</translation>
    </message>
    <message>
        <source>No connection to the unit. Check the probe, cable and power.</source>
        <translation>Sin conexión con la unidad. Revise la sonda, el cable y la alimentación.</translation>
    </message>
    <message>
        <source>No probe for this slot. Call an engineer.</source>
        <translation>Esta posición no tiene sonda. Llame a un ingeniero.</translation>
    </message>
    <message>
        <source>Programming failed. Reseat the unit and scan it again.</source>
        <translation>Falló la programación. Vuelva a colocar la unidad y escanéela otra vez.</translation>
    </message>
    <message>
        <source>Flash check failed. Reseat the unit and scan it again.</source>
        <translation>Falló la verificación de la flash. Vuelva a colocar la unidad y escanéela otra vez.</translation>
    </message>
    <message>
        <source>Credentials could not be written. Scan the unit again.</source>
        <translation>No se pudieron escribir las credenciales. Escanee la unidad otra vez.</translation>
    </message>
    <message>
        <source>Locking failed. Put the unit aside for a supervisor.</source>
        <translation>Falló el bloqueo. Aparte la unidad para un supervisor.</translation>
    </message>
    <message>
        <source>The unit does not answer. Check its console cable, then scan it again.</source>
        <translation>La unidad no responde. Revise el cable de consola y escanéela otra vez.</translation>
    </message>
    <message>
        <source>The unit answers with garbage. Check its console cable, then scan it again.</source>
        <translation>La unidad responde con basura. Revise el cable de consola y escanéela otra vez.</translation>
    </message>
    <message>
        <source>The unit refused a command. Put it aside for a supervisor.</source>
        <translation>La unidad rechazó un comando. Apártela para un supervisor.</translation>
    </message>
    <message>
        <source>Activation refused. Put the unit aside for a supervisor.</source>
        <translation>Activación rechazada. Aparte la unidad para un supervisor.</translation>
    </message>
    <message>
        <source>The unit&apos;s identity is wrong after restart. Put it aside for a supervisor.</source>
        <translation>La identidad de la unidad es incorrecta tras reiniciar. Apártela para un supervisor.</translation>
    </message>
    <message>
        <source>The unit runs the wrong firmware. Put it aside for a supervisor.</source>
        <translation>La unidad tiene un firmware incorrecto. Apártela para un supervisor.</translation>
    </message>
    <message>
        <source>This is a development unit. It must never ship: put it in the reject bin.</source>
        <translation>Es una unidad de desarrollo. Nunca debe enviarse: póngala en la caja de rechazos.</translation>
    </message>
    <message>
        <source>This unit has already passed. Move it on.</source>
        <translation>Esta unidad ya pasó. Pásela a la siguiente estación.</translation>
    </message>
    <message>
        <source>This unit is being provisioned at another station. Leave it there.</source>
        <translation>Esta unidad se está aprovisionando en otra estación. Déjela allí.</translation>
    </message>
    <message>
        <source>This work order is complete. Put the unit aside and call a supervisor.</source>
        <translation>Esta orden de trabajo está completa. Aparte la unidad y llame a un supervisor.</translation>
    </message>
    <message>
        <source>This board is being provisioned under another label. Put it aside for a supervisor.</source>
        <translation>Esta placa se está aprovisionando con otra etiqueta. Apártela para un supervisor.</translation>
    </message>
    <message>
        <source>This board already passed under another label. Put it aside for a supervisor.</source>
        <translation>Esta placa ya pasó con otra etiqueta. Apártela para un supervisor.</translation>
    </message>
    <message>
        <source>This label is not a serial of this product. Scan the serial label.</source>
        <translation>Esta etiqueta no es un número de serie de este producto. Escanee la etiqueta del número de serie.</translation>
    </message>
    <message>
        <source>Serial label and unit do not belong together. Put it aside for a supervisor.</source>
        <translation>La etiqueta y la unidad no corresponden. Apártela para un supervisor.</translation>
    </message>
    <message>
        <source>A step took too long. Scan the unit again.</source>
        <translation>Un paso tardó demasiado. Escanee la unidad otra vez.</translation>
    </message>
    <message>
        <source>Erased by rework: a development unit now. It never ships.</source>
        <translation>Borrada por retrabajo: ahora es una unidad de desarrollo. Nunca se envía.</translation>
    </message>
    <message>
        <source>The station stopped during this unit. Scan it again.</source>
        <translation>La estación se detuvo durante esta unidad. Escanéela otra vez.</translation>
    </message>
    <message>
        <source>The unit may be locked. A supervisor must inspect it.</source>
        <translation>La unidad puede estar bloqueada. Un supervisor debe inspeccionarla.</translation>
    </message>
    <message>
        <source>The factory CA is not loaded. Call an engineer.</source>
        <translation>La CA de fábrica no está cargada. Llame a un ingeniero.</translation>
    </message>
    <message>
        <source>The station self-test has not passed this shift. A supervisor must run it first.</source>
        <translation>La autoprueba de la estación no ha pasado en este turno. Un supervisor debe ejecutarla primero.</translation>
    </message>
    <message>
        <source>The station cannot save its records. Call an engineer.</source>
        <translation>La estación no puede guardar sus registros. Llame a un ingeniero.</translation>
    </message>
    <message>
        <source>The unit finished, but its result could not be saved. It is not passed: scan it again.</source>
        <translation>La unidad terminó, pero su resultado no se pudo guardar. No está aprobada: escanéela de nuevo.</translation>
    </message>
    <message>
        <source>Station problem. Call an engineer.</source>
        <translation>Problema en la estación. Llame a un ingeniero.</translation>
    </message>
    <message>
        <source>The label printer did not take it. Check that the printer is on, connected and has labels: the label prints once it does.</source>
        <translation>La impresora de etiquetas no la aceptó. Compruebe que la impresora está encendida, conectada y tiene etiquetas: la etiqueta se imprime en cuanto lo esté.</translation>
    </message>
    <message>
        <source>The label cannot be made for this unit. Put the unit aside and call an engineer.</source>
        <translation>No se puede hacer la etiqueta de esta unidad. Aparte la unidad y llame a un ingeniero.</translation>
    </message>
    <message>
        <source>No serial number could be given to this unit. Put it aside and call a supervisor.</source>
        <translation>No se pudo asignar un número de serie a esta unidad. Apártela y llame a un supervisor.</translation>
    </message>
    <message>
        <source>This work order has no serial numbers left. Call a supervisor.</source>
        <translation>A esta orden de trabajo no le quedan números de serie. Llame a un supervisor.</translation>
    </message>
    <message>
        <source>This station has no serial numbers left and the line database does not answer. Call a supervisor.</source>
        <translation>A esta estación no le quedan números de serie y la base de datos de la línea no responde. Llame a un supervisor.</translation>
    </message>
    <message>
        <source>The unit failed. Put it aside for a supervisor.</source>
        <translation>La unidad falló. Apártela para un supervisor.</translation>
    </message>
    <message>
        <source>This unit is being provisioned at {where}. Leave it there and take the next unit.</source>
        <translation>Esta unidad se está aprovisionando en {where}. Déjela allí y tome la siguiente unidad.</translation>
    </message>
    <message>
        <source>Label printed.</source>
        <translation>Etiqueta impresa.</translation>
    </message>
    <message>
        <source>No label: {why}</source>
        <translation>Sin etiqueta: {why}</translation>
    </message>
    <message>
        <source>LABEL PENDING. {why}</source>
        <translation>ETIQUETA PENDIENTE. {why}</translation>
    </message>
    <message>
        <source>Connect</source>
        <translation>Conectar</translation>
    </message>
    <message>
        <source>Program</source>
        <translation>Programar</translation>
    </message>
    <message>
        <source>Verify</source>
        <translation>Verificar</translation>
    </message>
    <message>
        <source>Credentials</source>
        <translation>Credenciales</translation>
    </message>
    <message>
        <source>Lock</source>
        <translation>Bloquear</translation>
    </message>
    <message>
        <source>Activate</source>
        <translation>Activar</translation>
    </message>
    <message>
        <source>Identity check</source>
        <translation>Comprobar identidad</translation>
    </message>
    <message>
        <source>Scan</source>
        <translation>Escanear</translation>
    </message>
    <message>
        <source>Rework erase</source>
        <translation>Borrado por retrabajo</translation>
    </message>
    <message>
        <source>Recovery</source>
        <translation>Recuperación</translation>
    </message>
    <message>
        <source>Station</source>
        <translation>Estación</translation>
    </message>
    <message>
        <source>PASS</source>
        <translation>PASA</translation>
    </message>
    <message>
        <source>FAIL</source>
        <translation>FALLA</translation>
    </message>
    <message>
        <source>ERASED</source>
        <translation>BORRADA</translation>
    </message>
</context>
<context>
    <name>OperatorView</name>
    <message>
        <source>Passed</source>
        <translation>Aprobadas</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>Fallidas</translation>
    </message>
    <message>
        <source>First-pass yield</source>
        <translation>Rendimiento a la primera</translation>
    </message>
    <message>
        <source>Units per hour</source>
        <translation>Unidades por hora</translation>
    </message>
    <message>
        <source>Scan your badge</source>
        <translation>Escanee su tarjeta</translation>
    </message>
    <message>
        <source>Scan your badge to start. No badge? Type your id.</source>
        <translation>Escanee su tarjeta para empezar. ¿Sin tarjeta? Escriba su número.</translation>
    </message>
    <message>
        <source>Type my id</source>
        <translation>Escribir mi número</translation>
    </message>
    <message>
        <source>Supervisor / engineer</source>
        <translation>Supervisor / ingeniero</translation>
    </message>
    <message>
        <source>No recipe</source>
        <translation>Sin receta</translation>
    </message>
    <message>
        <source>{product}  ·  firmware {version}</source>
        <translation>{product}  ·  firmware {version}</translation>
    </message>
    <message>
        <source>Work order {code}: units without a label, serials from its rule</source>
        <translation>Orden de trabajo {code}: unidades sin etiqueta, números de serie según su regla</translation>
    </message>
    <message>
        <source>Work order {code}</source>
        <translation>Orden de trabajo {code}</translation>
    </message>
    <message>
        <source>No work order</source>
        <translation>Sin orden de trabajo</translation>
    </message>
</context>
<context>
    <name>PinDialog</name>
    <message>
        <source>Confirm with your PIN</source>
        <translation>Confirme con su PIN</translation>
    </message>
    <message>
        <source>PIN</source>
        <translation>PIN</translation>
    </message>
</context>
<context>
    <name>ReportsView</name>
    <message>
        <source>Filter</source>
        <translation>Filtro</translation>
    </message>
    <message>
        <source>Work order</source>
        <translation>Orden de trabajo</translation>
    </message>
    <message>
        <source>Product</source>
        <translation>Producto</translation>
    </message>
    <message>
        <source>Recipe (SHA-256)</source>
        <translation>Receta (SHA-256)</translation>
    </message>
    <message>
        <source>Station</source>
        <translation>Estación</translation>
    </message>
    <message>
        <source>Operator</source>
        <translation>Operador</translation>
    </message>
    <message>
        <source>Started from</source>
        <translation>Iniciados desde</translation>
    </message>
    <message>
        <source>Started before</source>
        <translation>Iniciados antes de</translation>
    </message>
    <message>
        <source>Result</source>
        <translation>Resultado</translation>
    </message>
    <message>
        <source>Serials (one a line)</source>
        <translation>Números de serie (uno por línea)</translation>
    </message>
    <message>
        <source>Local time</source>
        <translation>Hora local</translation>
    </message>
    <message>
        <source>any</source>
        <translation>cualquiera</translation>
    </message>
    <message>
        <source>In progress</source>
        <translation>En curso</translation>
    </message>
    <message>
        <source>Passed</source>
        <translation>Aprobado</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>Fallido</translation>
    </message>
    <message>
        <source>Needs inspection</source>
        <translation>Requiere inspección</translation>
    </message>
    <message>
        <source>Refresh</source>
        <translation>Actualizar</translation>
    </message>
    <message>
        <source>Clear filter</source>
        <translation>Borrar filtro</translation>
    </message>
    <message>
        <source>Yield</source>
        <translation>Rendimiento</translation>
    </message>
    <message>
        <source>Attempts</source>
        <translation>Intentos</translation>
    </message>
    <message>
        <source>Units</source>
        <translation>Unidades</translation>
    </message>
    <message>
        <source>First-pass yield</source>
        <translation>Rendimiento a la primera</translation>
    </message>
    <message>
        <source>Final yield</source>
        <translation>Rendimiento final</translation>
    </message>
    <message>
        <source>Attempts per unit</source>
        <translation>Intentos por unidad</translation>
    </message>
    <message>
        <source>Units per hour</source>
        <translation>Unidades por hora</translation>
    </message>
    <message>
        <source>Failures</source>
        <translation>Fallos</translation>
    </message>
    <message>
        <source>Golden units (left out)</source>
        <translation>Unidades de referencia (excluidas)</translation>
    </message>
    <message>
        <source>Failure Pareto</source>
        <translation>Pareto de fallos</translation>
    </message>
    <message>
        <source>Cycle time per step</source>
        <translation>Tiempo de ciclo por paso</translation>
    </message>
    <message>
        <source>Failures by code</source>
        <translation>Fallos por código</translation>
    </message>
    <message>
        <source>Time per step (seconds)</source>
        <translation>Tiempo por paso (segundos)</translation>
    </message>
    <message>
        <source>Signed export</source>
        <translation>Exportación firmada</translation>
    </message>
    <message>
        <source>Export CSV…</source>
        <translation>Exportar CSV…</translation>
    </message>
    <message>
        <source>Export JSON…</source>
        <translation>Exportar JSON…</translation>
    </message>
    <message>
        <source>Export PDF report…</source>
        <translation>Exportar informe PDF…</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Cancelar</translation>
    </message>
    <message>
        <source>Open</source>
        <translation>Abrir</translation>
    </message>
    <message>
        <source>Computing…</source>
        <translation>Calculando…</translation>
    </message>
    <message>
        <source>{units} units, {attempts} attempts</source>
        <translation>{units} unidades, {attempts} intentos</translation>
    </message>
    <message>
        <source>Updated {time}</source>
        <translation>Actualizado a las {time}</translation>
    </message>
    <message>
        <source>The figures could not be computed: {message}</source>
        <translation>No se pudieron calcular las cifras: {message}</translation>
    </message>
    <message>
        <source>failures</source>
        <translation>fallos</translation>
    </message>
    <message>
        <source>cumulative %</source>
        <translation>% acumulado</translation>
    </message>
    <message>
        <source>no failures</source>
        <translation>sin fallos</translation>
    </message>
    <message>
        <source>median</source>
        <translation>mediana</translation>
    </message>
    <message>
        <source>95th percentile</source>
        <translation>percentil 95</translation>
    </message>
    <message>
        <source>no finished steps</source>
        <translation>ningún paso terminado</translation>
    </message>
    <message>
        <source>CSV (*.csv)</source>
        <translation>Archivos CSV (*.csv)</translation>
    </message>
    <message>
        <source>NDJSON (*.ndjson *.json)</source>
        <translation>Archivos NDJSON (*.ndjson *.json)</translation>
    </message>
    <message>
        <source>PDF (*.pdf)</source>
        <translation>Archivos PDF (*.pdf)</translation>
    </message>
    <message>
        <source>Export to</source>
        <translation>Exportar a</translation>
    </message>
    <message>
        <source>An export is already running.</source>
        <translation>Ya hay una exportación en marcha.</translation>
    </message>
    <message>
        <source>Exporting to {path}…</source>
        <translation>Exportando a {path}…</translation>
    </message>
    <message>
        <source>Cancelling…</source>
        <translation>Cancelando…</translation>
    </message>
    <message>
        <source>Wrote {count} attempts to {path}, signed ({manifest}, {signature}).</source>
        <translation>Se escribieron {count} intentos en {path}, firmados ({manifest}, {signature}).</translation>
    </message>
    <message>
        <source>The export failed: {message}</source>
        <translation>La exportación falló: {message}</translation>
    </message>
    <message>
        <source>Export cancelled; nothing was written.</source>
        <translation>Exportación cancelada; no se escribió nada.</translation>
    </message>
</context>
<context>
    <name>SignInDialog</name>
    <message>
        <source>Register the first engineer</source>
        <translation>Registrar el primer ingeniero</translation>
    </message>
    <message>
        <source>This station has no engineer yet. Choose your name and a PIN of 4 to 12 digits.</source>
        <translation>Esta estación aún no tiene ingeniero. Elija su nombre y un PIN de 4 a 12 dígitos.</translation>
    </message>
    <message>
        <source>Supervisor or engineer sign-in</source>
        <translation>Inicio de sesión de supervisor o ingeniero</translation>
    </message>
    <message>
        <source>Scan your badge or type your name, then type your PIN.</source>
        <translation>Escanee su tarjeta o escriba su nombre, y luego su PIN.</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Nombre</translation>
    </message>
    <message>
        <source>PIN</source>
        <translation>PIN</translation>
    </message>
    <message>
        <source>PIN again</source>
        <translation>Repita el PIN</translation>
    </message>
    <message>
        <source>The two PINs differ.</source>
        <translation>Los dos PIN no coinciden.</translation>
    </message>
</context>
<context>
    <name>SlotLogPanel</name>
    <message>
        <source>Slots now: each slot&apos;s latest step or console line</source>
        <translation>Posiciones ahora: el último paso o línea de consola de cada una</translation>
    </message>
    <message>
        <source>Slot {name}</source>
        <translation>Posición {name}</translation>
    </message>
    <message>
        <source>no unit yet</source>
        <translation>aún sin unidad</translation>
    </message>
    <message>
        <source>{step}: started</source>
        <translation>{step}: iniciado</translation>
    </message>
    <message>
        <source>{step}: passed</source>
        <translation>{step}: correcto</translation>
    </message>
    <message>
        <source>{step}: failed</source>
        <translation>{step}: falló</translation>
    </message>
    <message>
        <source>{step}: skipped</source>
        <translation>{step}: omitido</translation>
    </message>
    <message>
        <source>console</source>
        <translation>consola</translation>
    </message>
    <message>
        <source>result</source>
        <translation>resultado</translation>
    </message>
</context>
<context>
    <name>SlotTile</name>
    <message>
        <source>Slot {name}</source>
        <translation>Posición {name}</translation>
    </message>
    <message>
        <source>Next scan →</source>
        <translation>Siguiente escaneo →</translation>
    </message>
    <message>
        <source>Ready. Put a unit in and scan this slot&apos;s fixture label.</source>
        <translation>Listo. Coloque una unidad y escanee la etiqueta del útil de esta posición.</translation>
    </message>
    <message>
        <source>Ready. Scan a unit, or press Simulate scan.</source>
        <translation>Lista. Escanee una unidad o pulse Simular escaneo.</translation>
    </message>
    <message>
        <source>Ready. Scan a unit.</source>
        <translation>Lista. Escanee una unidad.</translation>
    </message>
    <message>
        <source>Device {device_id}</source>
        <translation>Dispositivo {device_id}</translation>
    </message>
    <message>
        <source>Move the unit on.</source>
        <translation>Pase la unidad a la siguiente estación.</translation>
    </message>
    <message>
        <source>Code {code} at step {step}</source>
        <translation>Código {code} en el paso {step}</translation>
    </message>
    <message>
        <source>Code {code}</source>
        <translation>Código {code}</translation>
    </message>
</context>
<context>
    <name>StationLine</name>
    <message>
        <source>No recipe is chosen. Call an engineer.</source>
        <translation>No hay receta elegida. Llame a un ingeniero.</translation>
    </message>
    <message>
        <source>The token vault is locked. A supervisor must unlock it for the shift.</source>
        <translation>El almacén de tokens está bloqueado. Un supervisor debe desbloquearlo para el turno.</translation>
    </message>
    <message>
        <source>No slot is set up. Call an engineer.</source>
        <translation>No hay posiciones configuradas. Llame a un ingeniero.</translation>
    </message>
    <message>
        <source>The station is checking unfinished units. Wait a moment.</source>
        <translation>La estación está revisando unidades sin terminar. Espere un momento.</translation>
    </message>
    <message>
        <source>This label is not a serial of this product (read: {scan}). Scan the serial label.</source>
        <translation>Esta etiqueta no es un número de serie de este producto (leído: {scan}). Escanee la etiqueta del número de serie.</translation>
    </message>
    <message>
        <source>This computer cannot play the station&apos;s sounds. Watch the screen for results, and tell an engineer.</source>
        <translation>Este ordenador no puede reproducir los sonidos de la estación. Mire los resultados en la pantalla y avise a un ingeniero.</translation>
    </message>
    <message>
        <source>Something went wrong in {where} ({what}). The station keeps running: try again, and call an engineer if it happens again. The log has the details.</source>
        <translation>Algo falló en {where} ({what}). La estación sigue funcionando: inténtelo otra vez y llame a un ingeniero si vuelve a ocurrir. El registro tiene los detalles.</translation>
    </message>
    <message>
        <source>Slot {slot} chosen: now scan the unit.</source>
        <translation>Posición {slot} elegida: ahora escanee la unidad.</translation>
    </message>
    <message>
        <source>Unknown badge. Ask a supervisor to register you.</source>
        <translation>Tarjeta desconocida. Pida a un supervisor que le registre.</translation>
    </message>
    <message>
        <source>Scan your badge first.</source>
        <translation>Escanee primero su tarjeta.</translation>
    </message>
    <message>
        <source>Typing does not start a unit: scan the unit&apos;s label.</source>
        <translation>Escribir no inicia una unidad: escanee la etiqueta de la unidad.</translation>
    </message>
    <message>
        <source>This unit is already running in slot {slot}.</source>
        <translation>Esta unidad ya está en marcha en la posición {slot}.</translation>
    </message>
    <message>
        <source>Slot {slot} is still working. Wait for its result.</source>
        <translation>La posición {slot} sigue trabajando. Espere su resultado.</translation>
    </message>
    <message>
        <source>All slots are working. Wait for a result.</source>
        <translation>Todas las posiciones están trabajando. Espere un resultado.</translation>
    </message>
    <message>
        <source>The recipe was refused. Call an engineer.</source>
        <translation>La receta fue rechazada. Llame a un ingeniero.</translation>
    </message>
    <message>
        <source>Choose a recipe first.</source>
        <translation>Elija primero una receta.</translation>
    </message>
    <message>
        <source>The factory CA is open.</source>
        <translation>La CA de fábrica está abierta.</translation>
    </message>
    <message>
        <source>A unit needs inspection by a supervisor after a restart.</source>
        <translation>Una unidad necesita la inspección de un supervisor tras un reinicio.</translation>
    </message>
    <message>
        <source>The token vault is unlocked for this shift.</source>
        <translation>El almacén de tokens está desbloqueado para este turno.</translation>
    </message>
    <message>
        <source>The factory CA was created. Choose a recipe, then open the CA.</source>
        <translation>La CA de fábrica se ha creado. Elija una receta y luego abra la CA.</translation>
    </message>
    <message>
        <source>{added} new token(s) imported for {product}.</source>
        <translation>{added} token(s) nuevo(s) importado(s) para {product}.</translation>
    </message>
    <message>
        <source>Self-test passed on golden unit {serial}: the station may start units.</source>
        <translation>Autoprueba superada con la unidad de referencia {serial}: la estación puede empezar unidades.</translation>
    </message>
    <message>
        <source>Self-test FAILED on golden unit {serial}. Call an engineer.</source>
        <translation>La autoprueba FALLÓ con la unidad de referencia {serial}. Llame a un ingeniero.</translation>
    </message>
    <message>
        <source>No label is pending.</source>
        <translation>No hay ninguna etiqueta pendiente.</translation>
    </message>
    <message>
        <source>{printed} label(s) printed, {waiting} still pending.</source>
        <translation>{printed} etiqueta(s) impresa(s), {waiting} todavía pendiente(s).</translation>
    </message>
    <message>
        <source>Another label for {serial} was printed.</source>
        <translation>Se imprimió otra etiqueta para {serial}.</translation>
    </message>
    <message>
        <source>The reprint of {serial} is recorded but the printer did not take it: it is pending.</source>
        <translation>La reimpresión de {serial} está registrada, pero la impresora no la aceptó: queda pendiente.</translation>
    </message>
</context>
<context>
    <name>SupervisorView</name>
    <message>
        <source>Token vault</source>
        <translation>Almacén de tokens</translation>
    </message>
    <message>
        <source>State</source>
        <translation>Estado</translation>
    </message>
    <message>
        <source>Vault passphrase</source>
        <translation>Contraseña del almacén</translation>
    </message>
    <message>
        <source>Line database</source>
        <translation>Base de datos de la línea</translation>
    </message>
    <message>
        <source>Unlock for the shift</source>
        <translation>Desbloquear para el turno</translation>
    </message>
    <message>
        <source>Lock</source>
        <translation>Bloquear</translation>
    </message>
    <message>
        <source>Rework</source>
        <translation>Retrabajo</translation>
    </message>
    <message>
        <source>Rework erases the unit in the chosen slot, its lock and credentials included. The unit becomes a development unit and never ships. Put the unit in the slot, then confirm with your PIN.</source>
        <translation>El retrabajo borra la unidad de la posición elegida, incluidos su bloqueo y sus credenciales. La unidad pasa a ser de desarrollo y nunca se envía. Ponga la unidad en la posición y confirme con su PIN.</translation>
    </message>
    <message>
        <source>Serial</source>
        <translation>Número de serie</translation>
    </message>
    <message>
        <source>Slot</source>
        <translation>Posición</translation>
    </message>
    <message>
        <source>Erase the unit (rework)…</source>
        <translation>Borrar la unidad (retrabajo)…</translation>
    </message>
    <message>
        <source>Units to inspect after a restart</source>
        <translation>Unidades para inspeccionar tras un reinicio</translation>
    </message>
    <message>
        <source>What did the inspection find?</source>
        <translation>¿Qué encontró la inspección?</translation>
    </message>
    <message>
        <source>Acknowledge…</source>
        <translation>Confirmar…</translation>
    </message>
    <message>
        <source>Golden reference units (left out of yield)</source>
        <translation>Unidades de referencia (fuera del rendimiento)</translation>
    </message>
    <message>
        <source>Serial of the reference unit</source>
        <translation>Número de serie de la unidad de referencia</translation>
    </message>
    <message>
        <source>Mark golden…</source>
        <translation>Marcar como referencia…</translation>
    </message>
    <message>
        <source>Unmark…</source>
        <translation>Quitar marca…</translation>
    </message>
    <message>
        <source>Station self-test (start of a shift)</source>
        <translation>Autoprueba de la estación (inicio de turno)</translation>
    </message>
    <message>
        <source>Put the golden unit in a free slot. The station reads its device id, images, lock and console and compares them with what was recorded when it was marked golden. A recipe that requires the self-test refuses units until it passes.</source>
        <translation>Coloque la unidad de referencia en un puesto libre. La estación lee su id de dispositivo, imágenes, bloqueo y consola y los compara con lo registrado al marcarla como referencia. Una receta que exige la autoprueba rechaza unidades hasta que pase.</translation>
    </message>
    <message>
        <source>Golden unit</source>
        <translation>Unidad de referencia</translation>
    </message>
    <message>
        <source>Serial (empty: the recipe&apos;s golden unit)</source>
        <translation>Número de serie (vacío: la unidad de referencia de la receta)</translation>
    </message>
    <message>
        <source>Run the station self-test</source>
        <translation>Ejecutar la autoprueba de la estación</translation>
    </message>
    <message>
        <source>locked; its key is in the token: unlock needs no passphrase</source>
        <translation>bloqueada; su clave está en el token: para desbloquearla no hace falta contraseña</translation>
    </message>
    <message>
        <source>none: this station&apos;s records are its own</source>
        <translation>ninguna: los registros de esta estación son solo suyos</translation>
    </message>
    <message>
        <source>CONFLICT, forwarding stopped: {detail}</source>
        <translation>CONFLICTO, reenvío detenido: {detail}</translation>
    </message>
    <message>
        <source>connected, {count} entries to forward</source>
        <translation>conectada, {count} entradas por reenviar</translation>
    </message>
    <message>
        <source>connected, all forwarded</source>
        <translation>conectada, todo reenviado</translation>
    </message>
    <message>
        <source>offline since {time} UTC, {count} entries waiting</source>
        <translation>sin conexión desde las {time} UTC, {count} entradas en espera</translation>
    </message>
    <message>
        <source>not reached yet</source>
        <translation>aún no alcanzada</translation>
    </message>
    <message>
        <source>{count} conflict(s) between stations to inspect (station line conflicts)</source>
        <translation>{count} conflicto(s) entre estaciones por revisar (station line conflicts)</translation>
    </message>
    <message>
        <source>Units of this recipe are locked for good (a permanent lock): no erase reopens them, so they can never be reworked.</source>
        <translation>Las unidades de esta receta quedan bloqueadas para siempre (un bloqueo permanente): ningún borrado las reabre, así que nunca se pueden reprocesar.</translation>
    </message>
    <message>
        <source>Give the serial of the unit.</source>
        <translation>Indique el número de serie de la unidad.</translation>
    </message>
    <message>
        <source>Mark {serial} as a golden reference unit?</source>
        <translation>¿Marcar {serial} como unidad de referencia?</translation>
    </message>
    <message>
        <source>Unmark {serial} as a golden reference unit?</source>
        <translation>¿Quitar a {serial} la marca de unidad de referencia?</translation>
    </message>
    <message>
        <source>{serial} is a golden unit.</source>
        <translation>{serial} es una unidad de referencia.</translation>
    </message>
    <message>
        <source>{serial} is no longer a golden unit.</source>
        <translation>{serial} ya no es una unidad de referencia.</translation>
    </message>
    <message>
        <source>Choose the slot of the golden unit.</source>
        <translation>Elija el puesto de la unidad de referencia.</translation>
    </message>
    <message>
        <source>Self-test running in slot {slot}…</source>
        <translation>Autoprueba en curso en el puesto {slot}…</translation>
    </message>
    <message>
        <source>unlocked</source>
        <translation>desbloqueado</translation>
    </message>
    <message>
        <source>locked</source>
        <translation>bloqueado</translation>
    </message>
    <message>
        <source>Give the serial and the slot.</source>
        <translation>Indique el número de serie y la posición.</translation>
    </message>
    <message>
        <source>Erase unit {serial} in slot {slot}? It will never ship.</source>
        <translation>¿Borrar la unidad {serial} de la posición {slot}? Nunca se enviará.</translation>
    </message>
    <message>
        <source>Rework started in slot {slot}.</source>
        <translation>Retrabajo iniciado en la posición {slot}.</translation>
    </message>
    <message>
        <source>Choose a unit in the list.</source>
        <translation>Elija una unidad de la lista.</translation>
    </message>
    <message>
        <source>Say what the inspection found.</source>
        <translation>Indique qué encontró la inspección.</translation>
    </message>
    <message>
        <source>Record the inspection of attempt {attempt}?</source>
        <translation>¿Registrar la inspección del intento {attempt}?</translation>
    </message>
    <message>
        <source>Recorded.</source>
        <translation>Registrado.</translation>
    </message>
</context>
</TS>
